/// Every error LossKit throws: one case per kind of bad input, each naming the
/// argument, what was expected and what was found.
///
/// LossKit never traps on bad input and never returns a silently wrong number:
/// it validates before it writes, so output storage a caller passed in is left
/// untouched when one of these is thrown.
public enum LossError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Two shapes (or a shape and a buffer size) that must agree do not.
    case shapeMismatch(argument: String, expected: String, actual: String)
    /// A class index (or other index) outside its valid range.
    case indexOutOfRange(argument: String, position: Int, index: Int, validRange: String)
    /// An option whose value is not allowed (label_smoothing outside [0, 1], a negative margin...).
    case invalidOption(name: String, value: String, expected: String)
    /// A value outside the loss's domain (a probability outside [0, 1], a negative variance...).
    case invalidValue(argument: String, position: Int, value: Double, expected: String)
    /// An empty input where the operation is undefined (PyTorch errors too).
    case emptyInput(argument: String, reason: String)
    /// A named input the loss needs was not supplied, or has the wrong kind (indices vs values).
    case missingInput(name: String, expected: String)
    /// A function name that this release does not implement.
    case unsupportedFunction(String)
    /// An option this loss does not take, or does not support yet.
    case unsupportedOption(function: String, option: String)
    /// A covariance matrix that is not positive definite (Cholesky failed).
    case notPositiveDefinite(argument: String, sample: Int)
    /// A file that cannot be read or is not of the expected format.
    case malformedFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(argument, expected, actual):
            return "\(argument): expected shape \(expected), got \(actual)"
        case let .indexOutOfRange(argument, position, index, validRange):
            return "\(argument)[\(position)] = \(index) is outside the valid range \(validRange)"
        case let .invalidOption(name, value, expected):
            return "option \(name) = \(value) is invalid: expected \(expected)"
        case let .invalidValue(argument, position, value, expected):
            return "\(argument)[\(position)] = \(value) is invalid: expected \(expected)"
        case let .emptyInput(argument, reason):
            return "\(argument) is empty: \(reason)"
        case let .missingInput(name, expected):
            return "input \(name) is missing: expected \(expected)"
        case let .unsupportedFunction(name):
            return "function \(name) is not supported"
        case let .unsupportedOption(function, option):
            return "\(function) does not support the option \(option)"
        case let .notPositiveDefinite(argument, sample):
            return "\(argument) of sample \(sample) is not positive definite"
        case let .malformedFile(path, reason):
            return "\(path): \(reason)"
        }
    }
}

/// Formats a shape the way PyTorch prints sizes: `[2, 3]`.
@inlinable
public func describeShape(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
