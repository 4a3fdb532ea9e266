import Foundation
import Loss

/// Shared helpers for LossKit's test targets.
public enum TestSupport {
    /// The repository's root, found from this file's path.
    public static var repositoryRoot: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/_TestSupport/Support.swift
        return parts.joined(separator: "/")
    }

    /// Held while a test switches `InstructionSet` (a process-wide setting) and
    /// while a test compares Float kernel outputs bit for bit across calls, so
    /// that tests running in parallel never see the set change under them.
    public static let instructionSetLock = NSRecursiveLock()

    public static func holdingInstructionSet<R>(_ body: () throws -> R) rethrows -> R {
        instructionSetLock.lock()
        defer { instructionSetLock.unlock() }
        return try body()
    }

    /// The bundled PyTorch reference cases.
    public static var torchCasesPath: String { repositoryRoot + "/Tests/Fixtures/torch-cases.json" }

    /// Normal values in Double (seeded).
    public static func normal(_ shape: [Int], scale: Double = 1, offset: Double = 0, seed: UInt64) -> Tensor<Double> {
        var g = SeededGenerator(seed: seed)
        return try! Tensor<Double>.randomNormal(shape: shape, scale: scale, offset: offset, using: &g)
    }

    /// Uniform values in Double (seeded).
    public static func uniform(_ shape: [Int], in range: ClosedRange<Double>, seed: UInt64) -> Tensor<Double> {
        var g = SeededGenerator(seed: seed)
        return try! Tensor<Double>.randomUniform(shape: shape, in: range, using: &g)
    }

    /// Random class indices in `0..<classes`.
    public static func classIndices(_ shape: [Int], classes: Int, seed: UInt64) -> Tensor<Int> {
        var g = SeededGenerator(seed: seed)
        return try! Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Int.random(in: 0..<classes, using: &g) })
    }

    /// The largest relative difference `|a - b| / max(|b|, floor)` over two sequences.
    public static func maxRelativeDifference(_ a: [Double], _ b: [Double], floor: Double = 1e-12) -> Double {
        precondition(a.count == b.count)
        return zip(a, b).map { x, y in x == y ? 0 : abs(x - y) / max(abs(y), floor) }.max() ?? 0
    }
}

/// One bad input and the error it must produce: a row of the bad-input tables.
public struct BadInput: Sendable, CustomStringConvertible {
    public let name: String
    public let expected: LossError
    public let body: @Sendable () throws -> Void

    public init(_ name: String, _ expected: LossError, _ body: @escaping @Sendable () throws -> Void) {
        self.name = name
        self.expected = expected
        self.body = body
    }

    public var description: String { name }

    /// nil when `body` throws exactly `expected`; otherwise what happened instead.
    public func mismatch() -> String? {
        do {
            try body()
            return "no error thrown, expected \(expected)"
        } catch let error as LossError {
            return LossErrorMatch.same(error, expected) ? nil : "threw \(error), expected \(expected)"
        } catch {
            return "threw a non-LossError \(type(of: error)): \(error), expected \(expected)"
        }
    }
}

public enum LossErrorMatch {
    /// Equality of kind and every argument, where a NaN value equals NaN
    /// (`LossError`'s synthesized `==` says NaN differs from itself).
    public static func same(_ a: LossError, _ b: LossError) -> Bool {
        if a == b { return true }
        if case let .invalidValue(argA, posA, valueA, expA) = a, case let .invalidValue(argB, posB, valueB, expB) = b {
            return argA == argB && posA == posB && expA == expB && valueA.isNaN && valueB.isNaN
        }
        return false
    }

    /// The case name alone (`shapeMismatch`, `indexOutOfRange`, ...).
    public static func kind(_ e: LossError) -> String {
        String(String(describing: Mirror(reflecting: e).children.first?.label ?? "\(e)").prefix { $0 != "(" })
    }
}

/// Broadcasting written out index by index, for checking losses that broadcast their
/// inputs against the same losses on expanded copies.
extension TestSupport {
    /// The source flat index of each element of `target` for a tensor of `shape` broadcast to it.
    static func sources(of shape: [Int], in target: [Int]) -> [Int] {
        let count = target.reduce(1, *)
        let padded = Array(repeating: 1, count: target.count - shape.count) + shape
        return (0..<count).map { flat in
            var rest = flat, source = 0, step = 1
            for d in stride(from: target.count - 1, through: 0, by: -1) {
                let i = rest % target[d]
                rest /= target[d]
                if padded[d] != 1 { source += i * step }
                step *= padded[d]
            }
            return source
        }
    }

    /// `t` (seen with shape `view`, the same count) repeated to `shape` as PyTorch broadcasts it.
    public static func expand(_ t: Tensor<Double>, view: [Int]? = nil, to shape: [Int]) -> Tensor<Double> {
        let values = t.scalars
        return try! Tensor(shape: shape, scalars: sources(of: view ?? t.shape, in: shape).map { values[$0] })
    }

    /// A gradient with respect to an expanded copy, summed back to the tensor it was expanded
    /// from (seen with shape `view`), returned with the shape `original`.
    public static func sumBack(_ g: Tensor<Double>, view: [Int], original: [Int]) -> Tensor<Double> {
        var total = [Double](repeating: 0, count: view.reduce(1, *))
        for (flat, source) in sources(of: view, in: g.shape).enumerated() { total[source] += g[flat: flat] }
        return try! Tensor(shape: original, scalars: total)
    }

    /// Compares a loss on `given` inputs with the same loss on copies expanded to the shapes
    /// in `expansions` (name → the view to expand from, when not the input's own shape, and
    /// the shape to expand to): the outputs must agree, and each gradient must be the
    /// expanded one summed back. Returns the problems found (none: empty).
    public static func broadcastProblems(
        _ loss: any LossFunction<Double>, _ given: LossInputs<Double>,
        _ expansions: [String: (view: [Int]?, to: [Int])], seed: UInt64
    ) throws -> [String] {
        var expanded = LossInputs<Double>()
        for name in given.names {
            guard case .values(let t)? = given[name], let e = expansions[name] else {
                expanded[name] = given[name]
                continue
            }
            expanded[name] = .values(expand(t, view: e.view, to: e.to))
        }
        var problems: [String] = []
        let a = try loss.forward(given), b = try loss.forward(expanded)
        if a.shape != b.shape || maxRelativeDifference(a.scalars, b.scalars) > 1e-12 {
            problems.append("output \(a) against \(b)")
        }
        let upstream = normal(a.shape, seed: seed)
        let ga = try loss.backward(given, upstream: upstream), gb = try loss.backward(expanded, upstream: upstream)
        for name in given.names {
            guard case .values(let t)? = given[name], let g = ga[name] else { continue }
            guard let h = gb[name] else {
                problems.append("no gradient of \(name) for the expanded copies")
                continue
            }
            let want = expansions[name].map { sumBack(h, view: $0.view ?? t.shape, original: t.shape) } ?? h
            if g.shape != want.shape || maxRelativeDifference(g.scalars, want.scalars, floor: 1e-9) > 1e-10 {
                problems.append("gradient of \(name): \(g) against \(want)")
            }
        }
        return problems
    }
}
