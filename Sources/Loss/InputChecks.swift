/// Validation helpers shared by the losses that take options with a restricted
/// range or inputs with a restricted domain. Every check runs before any
/// computation and throws a ``/Kernels/LossError`` naming the argument.
enum InputChecks {
    /// Throws ``/Kernels/LossError/invalidOption(name:value:expected:)`` unless `valid`.
    static func option<T: KernelScalar>(_ name: String, _ value: T, valid: Bool, expected: String) throws {
        guard valid else { throw LossError.invalidOption(name: name, value: "\(value)", expected: expected) }
    }

    /// Throws for a non-finite option value.
    static func finite<T: KernelScalar>(_ name: String, _ value: T) throws {
        try option(name, value, valid: value.isFinite, expected: "a finite number")
    }

    /// Throws ``/Kernels/LossError/invalidValue(argument:position:value:expected:)`` at the
    /// first element for which `isValid` is false (NaN fails every range check).
    static func elements<T: KernelScalar>(
        _ tensor: Tensor<T>, _ argument: String, expected: String, _ isValid: (T) -> Bool
    ) throws {
        try tensor.withUnsafeBufferPointer { values in
            for (i, v) in values.enumerated() where !isValid(v) {
                throw LossError.invalidValue(argument: argument, position: i, value: Double(v), expected: expected)
            }
        }
    }

    /// Targets of the margin losses: every element exactly -1 or 1.
    static func signs<T: KernelScalar>(_ tensor: Tensor<T>, _ argument: String) throws {
        try elements(tensor, argument, expected: "-1 or 1") { $0 == 1 || $0 == -1 }
    }
}

/// `max(z, 0)` as PyTorch's `clamp_min(z, 0)`: NaN stays NaN. (Swift's `max(0, z)`
/// returns 0 for a NaN `z`, which would hide a NaN input behind a hinge.)
@inline(__always)
func clampMin0<T: KernelScalar>(_ z: T) -> T { z.isNaN ? z : max(z, 0) }

/// The backward of `clamp_min(z, 0)` as PyTorch computes it: `where(z > 0, 1, 0)`, a
/// selection, so a NaN `z` passes 0 on. The chain rule's products after it are then
/// taken as autograd takes them (`0 · NaN` is NaN), not skipped.
@inline(__always)
func hingeMask<T: KernelScalar>(_ z: T) -> T { z > 0 ? 1 : 0 }

/// `x^y` for `x ≥ 0` with C's `pow` at the edges that swift-numerics' real `pow`
/// leaves undefined: `x^0 = 1` for every `x` (NaN and 0 included).
@inline(__always)
func power<T: KernelScalar>(_ x: T, _ y: T) -> T { y == 0 ? 1 : T.pow(x, y) }
