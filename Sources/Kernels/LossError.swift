#if canImport(Foundation)
import Foundation
#endif

/// Every error LossKit throws: one case per kind of bad input, each naming the
/// argument, what was expected and what was found.
///
/// LossKit never traps on bad input and never returns a silently wrong number:
/// it validates before it writes, so output storage a caller passed in is left
/// untouched when one of these is thrown.
///
/// Arguments are named as the caller named them: the Swift argument (`variance`,
/// `labelSmoothing`) through the typed Swift API, PyTorch's name (`var`,
/// `label_smoothing`) through `LossRegistry` (module `Loss`), `losskit` and reference files.
/// ``description`` and `localizedDescription` are sentences.
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
    /// An input name the loss does not take (a misspelling, typically); `expected` lists the names it takes.
    case unknownInput(name: String, expected: [String])
    /// A gradient was asked for an input the loss does not differentiate (class indices, say).
    case noGradient(input: String)
    /// A function name that this release does not implement.
    case unsupportedFunction(String)
    /// An option this loss does not take, or does not support yet.
    case unsupportedOption(function: String, option: String)
    /// A scalar type the kernels do not implement (only LossKit's own `KernelScalar` conformances are).
    case unsupportedScalar(String)
    /// A covariance matrix that is not positive definite (Cholesky failed).
    case notPositiveDefinite(argument: String, sample: Int)
    /// A matrix without full column rank where a least-squares solution needs it.
    case notFullRank(argument: String)
    /// A file that cannot be read or is not of the expected format.
    case malformedFile(path: String, reason: String)

    public var description: String {
        let text: String
        switch self {
        case let .shapeMismatch(argument, expected, actual):
            text = "Wrong shape for \(argument): expected \(expected), got \(actual)."
        case let .indexOutOfRange(argument, position, index, validRange):
            text = "\(argument)[\(position)] is \(index), outside the valid range \(validRange)."
        case let .invalidOption(name, value, expected):
            text = "The option \(name) = \(value) is invalid: expected \(expected)."
        case let .invalidValue(argument, position, value, expected):
            text = "\(argument)[\(position)] is \(value), which is invalid: expected \(expected)."
        case let .emptyInput(argument, reason):
            text = "\(argument) is empty: \(reason)."
        case let .missingInput(name, expected):
            text = "The input \(name) is missing: expected \(expected)."
        case let .unknownInput(name, expected):
            let names = expected.joined(separator: ", ")
            text = "There is no input named \(name): this loss takes \(names.isEmpty ? "no named inputs" : names)."
        case let .noGradient(input):
            text = "There is no gradient for \(input): the loss does not differentiate it."
        case let .unsupportedFunction(name):
            text = "The function \(name) is not supported."
        case let .unsupportedOption(function, option):
            text = "\(function) does not take the option \(option)."
        case let .unsupportedScalar(name):
            text = "The scalar type \(name) is not supported: LossKit computes in Float and Double."
        case let .notPositiveDefinite(argument, sample):
            text = "\(argument) of sample \(sample) is not positive definite."
        case let .notFullRank(argument):
            text = "\(argument) does not have full column rank."
        case let .malformedFile(path, reason):
            text = "\(path): \(reason)."
        }
        // One full stop, whatever punctuation a reason brought with it.
        var trimmed = Substring(text)
        while let last = trimmed.last, last == "." || last == " " { trimmed.removeLast() }
        return trimmed + "."
    }
}

extension LossError {
    /// The same error with every argument, option and input name passed through
    /// `rename`: the typed Swift API reports its own argument labels this way.
    package func renamingArguments(_ rename: (String) -> String) -> LossError {
        switch self {
        case let .shapeMismatch(argument, expected, actual):
            return .shapeMismatch(argument: rename(argument), expected: expected, actual: actual)
        case let .indexOutOfRange(argument, position, index, validRange):
            return .indexOutOfRange(argument: rename(argument), position: position, index: index, validRange: validRange)
        case let .invalidOption(name, value, expected):
            return .invalidOption(name: rename(name), value: value, expected: expected)
        case let .invalidValue(argument, position, value, expected):
            return .invalidValue(argument: rename(argument), position: position, value: value, expected: expected)
        case let .emptyInput(argument, reason):
            return .emptyInput(argument: rename(argument), reason: reason)
        case let .missingInput(name, expected):
            return .missingInput(name: rename(name), expected: expected)
        case let .unknownInput(name, expected):
            return .unknownInput(name: rename(name), expected: expected.map(rename))
        case let .noGradient(input):
            return .noGradient(input: rename(input))
        case let .unsupportedOption(function, option):
            return .unsupportedOption(function: function, option: rename(option))
        case let .notPositiveDefinite(argument, sample):
            return .notPositiveDefinite(argument: rename(argument), sample: sample)
        case let .notFullRank(argument):
            return .notFullRank(argument: rename(argument))
        case .unsupportedFunction, .unsupportedScalar, .malformedFile:
            return self
        }
    }
}

#if canImport(Foundation)
extension LossError: LocalizedError {
    /// The same sentence as ``description``, so `localizedDescription` names the problem.
    public var errorDescription: String? { description }
}
#endif

/// Formats a shape the way PyTorch prints sizes: `[2, 3]`.
@inlinable
public func describeShape(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
