import Foundation
import Loss

/// A tensor from a reference file: its shape and either float values (stored as
/// Double; "NaN", "Infinity" and "-Infinity" strings decoded) or int64 values.
public struct ReferenceTensor: Sendable {
    /// The type the file stores: floating-point values exact in float32 (float64 files
    /// too), float16 or bfloat16, or int64 integers.
    public enum DType: String, Sendable {
        case float32, float16, bfloat16, int64

        /// Whether the values are floating-point.
        public var isFloatingPoint: Bool { self != .int64 }
    }
    public var shape: [Int]
    public var dtype: DType
    public var values: [Double]
    public var integers: [Int]

    public init(shape: [Int], dtype: DType, values: [Double], integers: [Int]) {
        self.shape = shape
        self.dtype = dtype
        self.values = values
        self.integers = integers
    }

    /// The float values as a tensor of `T`.
    public func tensor<T: KernelScalar>(_: T.Type = T.self) throws -> Tensor<T> {
        try Tensor(shape: shape, scalars: values.map { T($0) })
    }

    /// The values as a floating-point tensor of `T`, int64 ones converted (PyTorch's
    /// type promotion of an integer tensor where a loss takes values).
    public func promotedTensor<T: KernelScalar>(_: T.Type = T.self) throws -> Tensor<T> {
        dtype == .int64 ? try Tensor(shape: shape, scalars: integers.map { T(Double($0)) }) : try tensor(T.self)
    }

    /// The int64 values as an index tensor.
    public func indexTensor() throws -> Tensor<Int> {
        try Tensor(shape: shape, scalars: integers)
    }
}

/// One case of a "loss-reference/1" file: a function, its options and inputs,
/// and PyTorch's float64 output and gradients (see `make_cases.py`).
public struct ReferenceCase: Sendable {
    public var id: String
    public var function: String
    public var options: [String: OptionValue]
    /// Inputs in positional order.
    public var inputs: [(name: String, tensor: ReferenceTensor)]
    public var output: ReferenceTensor
    public var upstream: ReferenceTensor
    public var gradients: [String: ReferenceTensor]
}

/// A parsed reference file.
public struct ReferenceFile: Sendable {
    public static let format = "loss-reference/1"

    public var generator: String?
    /// The file's `dtype`: the type of every floating-point input, output and gradient
    /// (float32 when the file does not say).
    public var dtype: ReferenceTensor.DType = .float32
    public var cases: [ReferenceCase]

    /// Reads and parses `path`.
    /// - Throws: ``LossError/malformedFile(path:reason:)`` naming the file and the problem.
    public init(contentsOf path: String) throws {
        let data: Data
        // A device (/dev/zero never ends), a directory or a socket is refused before it is read.
        if let kind = specialFileKind(path) {
            throw LossError.malformedFile(path: path, reason: "is \(kind), not a file of reference cases")
        }
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw LossError.malformedFile(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(bytes: Array(data), path: path)
    }

    /// Parses a file's bytes; `path` names it in errors.
    public init(bytes: [UInt8], path: String = "<data>") throws {
        func fail(_ reason: String) -> LossError { .malformedFile(path: path, reason: reason) }
        let root: JSONValue
        do {
            root = try JSONValue.parse(bytes)
        } catch {
            throw fail("is not valid JSON (\(error))")
        }
        guard case .object = root else { throw fail("is not a JSON object") }
        guard case .string(let format)? = root["format"] else { throw fail("has no \"format\" field") }
        guard format == ReferenceFile.format else {
            throw fail("has format \"\(format)\", expected \"\(ReferenceFile.format)\"")
        }
        guard case .array(let rawCases)? = root["cases"] else { throw fail("has no \"cases\" array") }
        if case .string(let g)? = root["generator"] { generator = g }
        switch root["dtype"] {
        case nil, .string("float32")?: dtype = .float32
        case .string("float16")?: dtype = .float16
        case .string("bfloat16")?: dtype = .bfloat16
        default: throw fail("has an unsupported \"dtype\" (float32, float16 or bfloat16)")
        }
        var seen = Set<String>()
        cases = try rawCases.enumerated().map { index, raw in
            let parsed = try ReferenceFile.parseCase(raw, index: index, fail: fail)
            guard seen.insert(parsed.id).inserted else { throw fail("case id \"\(parsed.id)\" appears twice") }
            return parsed
        }
    }

    static func parseCase(_ c: JSONValue, index: Int, fail: (String) -> LossError) throws -> ReferenceCase {
        guard case .object = c else { throw fail("case \(index) is not an object") }
        guard case .string(let id)? = c["id"] else { throw fail("case \(index) has no string \"id\"") }
        func bad(_ what: String) -> LossError { fail("case \"\(id)\": \(what)") }
        guard case .string(let function)? = c["function"] else { throw bad("no string \"function\"") }
        var options: [String: OptionValue] = [:]
        switch c["options"] {
        case nil, .null?: break
        case .object(let pairs)?: for (key, value) in pairs { options[key] = try option(value, name: key, bad: bad) }
        default: throw bad("\"options\" is not an object")
        }
        guard case .object(let inputPairs)? = c["inputs"] else { throw bad("no \"inputs\" object") }
        let inputs = try inputPairs.map { name, t in (name: name, tensor: try tensor(t, "inputs.\(name)", bad: bad)) }
        var gradients: [String: ReferenceTensor] = [:]
        switch c["gradients"] {
        case nil, .null?: break
        case .object(let pairs)?: for (name, g) in pairs { gradients[name] = try tensor(g, "gradients.\(name)", bad: bad) }
        default: throw bad("\"gradients\" is not an object")
        }
        // Expected results are floating-point: an int64 output or gradient would
        // hold no `values`, and the verifier would compare nothing and pass.
        func floating(_ t: ReferenceTensor, _ what: String) throws -> ReferenceTensor {
            guard t.dtype.isFloatingPoint else { throw bad("\(what) must be a floating-point tensor, not \(t.dtype.rawValue)") }
            return t
        }
        for name in gradients.keys.sorted() { _ = try floating(gradients[name]!, "gradients.\(name)") }
        return ReferenceCase(
            id: id, function: function, options: options, inputs: inputs,
            output: try floating(try tensor(c["output"], "output", bad: bad), "output"),
            upstream: try floating(try tensor(c["upstream"], "upstream", bad: bad), "upstream"), gradients: gradients)
    }

    static func option(_ value: JSONValue, name: String, bad: (String) -> LossError) throws -> OptionValue {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .integer(let n): return .int(n)
        case .number(let d): return .double(d)
        case .string(let s): return .string(s)
        case .array(let items): return .list(try items.map { try option($0, name: name, bad: bad) })
        case .object: throw bad("option \(name) is an object")
        }
    }

    static func number(_ value: JSONValue, bad: (String) -> LossError, _ what: String) throws -> Double {
        switch value {
        case .integer(let n): return Double(n)
        case .number(let d): return d
        case .string("NaN"): return .nan
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        case .string(let s): throw bad("\(what) holds the string \"\(s.prefix(40))\" where a number belongs")
        default: throw bad("\(what) holds a non-number")
        }
    }

    static func tensor(_ raw: JSONValue?, _ what: String, bad: (String) -> LossError) throws -> ReferenceTensor {
        guard let raw, case .object = raw else { throw bad("\(what) is missing or not an object") }
        guard case .array(let shapeList)? = raw["shape"] else { throw bad("\(what) has no \"shape\" list") }
        let shape = try shapeList.map { v -> Int in
            guard case .integer(let n) = v, n >= 0, n < 1 << 40 else { throw bad("\(what) has an invalid shape entry") }
            return n
        }
        let dtype: ReferenceTensor.DType
        switch raw["dtype"] {
        case nil, .string("float32")?, .string("float64")?: dtype = .float32
        case .string("float16")?: dtype = .float16
        case .string("bfloat16")?: dtype = .bfloat16
        case .string("int64")?, .string("int32")?: dtype = .int64
        default: throw bad("\(what) has an unsupported dtype")
        }
        guard case .array(let data)? = raw["data"] else { throw bad("\(what) has no \"data\" list") }
        var expected = 1, rows = 1
        for d in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow, product < 1 << 40 else { throw bad("\(what) has a shape too large") }
            expected = product
            if d != 0 {
                let (r, o) = rows.multipliedReportingOverflow(by: d)
                rows = o ? Int.max : r
            }
        }
        // A shape without elements still sets a reduction's row count (see checkedElementCount).
        guard expected > 0 || rows <= maximumEmptyShapeRows else {
            throw bad("\(what) has a shape without elements whose other sizes multiply to more than \(maximumEmptyShapeRows)")
        }
        guard data.count == expected else {
            throw bad("\(what) has \(data.count) values for shape \(describeShape(shape)) (\(expected) expected)")
        }
        var values: [Double] = [], integers: [Int] = []
        if dtype == .int64 {
            integers = try data.map { v in
                guard case .integer(let n) = v else { throw bad("\(what) holds a non-integer in an int64 tensor") }
                return n
            }
        } else {
            values = try data.map { try number($0, bad: bad, what) }
        }
        return ReferenceTensor(shape: shape, dtype: dtype, values: values, integers: integers)
    }
}

/// What `path` is when it exists and is neither a regular file nor a pipe (symbolic links
/// followed): "a directory", "a device", "a socket"; nil otherwise (and when it does not
/// exist, which reading then reports).
func specialFileKind(_ path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    switch info.st_mode & S_IFMT {
    case S_IFREG, S_IFIFO: return nil
    case S_IFDIR: return "a directory"
    case S_IFCHR, S_IFBLK: return "a device"
    case S_IFSOCK: return "a socket"
    default: return "a special file"
    }
}
