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
