import Foundation

extension NPYArray {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
    /// Headers longer than this are rejected (NumPy's own default limit is 10,000 bytes).
    public static let maximumHeaderLength = 1 << 20

    // MARK: Reading

    /// Reads a `.npy` file.
    public init(contentsOf path: String) throws(NPYError) {
        let data: Data
        // A device (/dev/zero never ends), a directory or a socket is refused before it is read.
        var info = stat()
        if stat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFREG, S_IFIFO: break
            case S_IFDIR: throw .io(path: path, reason: "is a directory, not a .npy file")
            default: throw .io(path: path, reason: "is a device or socket, not a .npy file")
            }
        }
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw .io(path: path, reason: reason)
        }
        try self.init(npyBytes: [UInt8](data))
    }

    /// Parses the bytes of a `.npy` file.
    public init(npyBytes bytes: [UInt8]) throws(NPYError) {
        var reader = ByteReader(bytes)
        let head = Array(try reader.take(8, "magic string and version"))
        guard Array(head[0..<6]) == NPYArray.magic else { throw .notNumPy }
        let major = Int(head[6]), minor = Int(head[7])
        guard (1...3).contains(major), minor == 0 else { throw .unsupportedVersion(major: major, minor: minor) }
        let headerLength: Int
        if major == 1 {
            let b = Array(try reader.take(2, "header length"))
            headerLength = Int(b[0]) | Int(b[1]) << 8
        } else {
            let b = Array(try reader.take(4, "header length"))
            headerLength = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
        }
        guard headerLength <= NPYArray.maximumHeaderLength else {
            throw .malformedHeader("its length \(headerLength) exceeds \(NPYArray.maximumHeaderLength) bytes")
        }
        let headerBytes = try reader.take(headerLength, "header")
        // Versions 1 and 2 use latin-1, version 3 UTF-8; the keys and values we accept are ASCII either way.
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw .malformedHeader("it is not valid \(major == 3 ? "UTF-8" : "latin-1") text")
        }
        let fields = try HeaderParser.parse(header)
        guard let dtype = DType(rawValue: fields.descr) ?? DType(rawValue: "<" + fields.descr.dropFirst()),
              fields.descr.first == "<" || fields.descr.first == "="
        else { throw .unsupportedDType(fields.descr) }
        guard !fields.fortranOrder else { throw .fortranOrder }
        guard let count = NPYArray.elementCount(fields.shape) else {
            throw .malformedHeader("shape (\(fields.shape.map(String.init).joined(separator: ", "))) is too large")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else { throw .malformedHeader("the data size overflows") }
        let body = try reader.take(byteCount, "data of \(count) \(dtype.name) elements")
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        let values: Values
        switch dtype {
        case .float16: values = .float16(decode(body, count) { Float16(bitPattern: UInt16(truncatingIfNeeded: $0)) })
        case .float32: values = .float32(decode(body, count) { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) })
        case .float64: values = .float64(decode(body, count) { Double(bitPattern: $0) })
        case .int32: values = .int32(decode(body, count) { Int32(truncatingIfNeeded: $0) })
        case .int64: values = .int64(decode(body, count) { Int64(bitPattern: $0) })
        }
        try self.init(shape: fields.shape, values: values)
    }

    // MARK: Writing

    /// The bytes of a version 1.0 `.npy` file (2.0 when the header does not fit 1.0's 16-bit length).
    public func npyBytes() -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        func header(prefix: Int) -> [UInt8] {
            // Pad with spaces so that the data starts at a multiple of 64 bytes; end with a newline.
            let unpadded = prefix + dict.utf8.count + 1
            let padding = (64 - unpadded % 64) % 64
            return Array((dict + String(repeating: " ", count: padding) + "\n").utf8)
        }
        var out = NPYArray.magic
        var text = header(prefix: 10)
        if text.count <= 0xFFFF {
            out += [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
        } else {
            text = header(prefix: 12)
            let n = UInt32(text.count)
            out += [2, 0, UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]
        }
        out += text
        out.reserveCapacity(out.count + count * dtype.size)
        func append(_ bits: UInt64, _ size: Int) {
            for i in 0..<size { out.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
        }
        switch values {
        case .float16(let a): for v in a { append(UInt64(v.bitPattern), 2) }
        case .float32(let a): for v in a { append(UInt64(v.bitPattern), 4) }
        case .float64(let a): for v in a { append(v.bitPattern, 8) }
        case .int32(let a): for v in a { append(UInt64(UInt32(bitPattern: v)), 4) }
        case .int64(let a): for v in a { append(UInt64(bitPattern: v), 8) }
        }
        return out
    }

    /// Writes the array as a `.npy` file.
    public func write(to path: String) throws(NPYError) {
        do {
            try Data(npyBytes()).write(to: URL(fileURLWithPath: path))
        } catch {
            throw .io(path: path, reason: "cannot be written (\(error.localizedDescription))")
        }
    }
}

/// Decodes `count` little-endian elements of `body.count / count` bytes each.
private func decode<T>(_ body: ArraySlice<UInt8>, _ count: Int, _ make: (UInt64) -> T) -> [T] {
    guard count > 0 else { return [] }
    let size = body.count / count
    var out = [T]()
    out.reserveCapacity(count)
    var i = body.startIndex
    for _ in 0..<count {
        var bits: UInt64 = 0
        for b in 0..<size { bits |= UInt64(body[i + b]) << (8 * UInt64(b)) }
        out.append(make(bits))
        i += size
    }
    return out
}

/// A cursor over bytes that never reads past the end.
private struct ByteReader {
    let bytes: [UInt8]
    var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    mutating func take(_ n: Int, _ what: String) throws(NPYError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw .truncated(what: what, needed: n, available: remaining) }
        defer { position += n }
        return bytes[position..<(position + n)]
    }
}

/// Parses the header: a Python dict literal with the keys `descr` (a string),
/// `fortran_order` (True/False) and `shape` (a tuple of non-negative integers),
/// followed by spaces and a newline.
enum HeaderParser {
    struct Fields {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]
    }

    enum Value {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    static func parse(_ text: String) throws(NPYError) -> Fields {
        var p = Parser(Array(text.unicodeScalars))
        var table: [String: Value] = [:]
        p.skipSpace()
        try p.expect("{")
        while true {
            p.skipSpace()
            if p.peek == "}" { p.advance(); break }
            let key = try p.string()
            p.skipSpace()
            try p.expect(":")
            p.skipSpace()
            guard table[key] == nil else { throw .malformedHeader("the key '\(key)' appears twice") }
            table[key] = try p.value()
            p.skipSpace()
            if p.peek == "," { p.advance(); continue }
            p.skipSpace()
            guard p.peek == "}" else { throw p.error("expected ',' or '}'") }
        }
        p.skipSpace()
        guard p.atEnd else { throw p.error("unexpected text after the dictionary") }
        for key in table.keys where !["descr", "fortran_order", "shape"].contains(key) {
            throw .malformedHeader("unexpected key '\(key)'")
        }
        guard case .string(let descr)? = table["descr"] else {
            throw .malformedHeader(table["descr"] == nil ? "the key 'descr' is missing" : "'descr' is not a string")
        }
        guard case .bool(let fortran)? = table["fortran_order"] else {
            throw .malformedHeader(
                table["fortran_order"] == nil ? "the key 'fortran_order' is missing" : "'fortran_order' is not True or False")
        }
        guard case .tuple(let shape)? = table["shape"] else {
            throw .malformedHeader(table["shape"] == nil ? "the key 'shape' is missing" : "'shape' is not a tuple of integers")
        }
        return Fields(descr: descr, fortranOrder: fortran, shape: shape)
    }

    struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        init(_ s: [Unicode.Scalar]) { self.s = s }

        var atEnd: Bool { i >= s.count }
        var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }
        mutating func advance() { i += 1 }

        func error(_ message: String) -> NPYError { .malformedHeader("\(message) at character \(i)") }

        mutating func skipSpace() {
            while let c = peek, c == " " || c == "\n" || c == "\t" || c == "\r" { i += 1 }
        }

        mutating func expect(_ c: Unicode.Scalar) throws(NPYError) {
            guard peek == c else { throw error("expected '\(c)'") }
            i += 1
        }

        mutating func string() throws(NPYError) -> String {
            guard let quote = peek, quote == "'" || quote == "\"" else { throw error("expected a quoted string") }
            i += 1
            var out = String.UnicodeScalarView()
            while let c = peek, c != quote {
                guard c != "\\" && c != "\n" else { throw error("unsupported character in a string") }
                out.append(c)
                i += 1
                guard out.count <= 64 else { throw error("string too long") }
            }
            try expect(quote)
            return String(out)
        }

        mutating func integer() throws(NPYError) -> Int {
            var digits = 0, value = 0
            while let c = peek, c.value >= 48 && c.value <= 57 {
                let d = Int(c.value - 48)
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(d)
                guard !o1 && !o2 else { throw error("integer too large") }
                value = a
                digits += 1
                i += 1
            }
            guard digits > 0 else { throw error("expected a non-negative integer") }
            if peek == "L" { i += 1 }  // Python 2 long literals, as old NumPy wrote them
            return value
        }

        mutating func value() throws(NPYError) -> Value {
            switch peek {
            case "'", "\"": return .string(try string())
            case "T", "F":
                let word = String(String.UnicodeScalarView(s[i..<min(s.count, i + 5)]))
                if word.hasPrefix("True") { i += 4; return .bool(true) }
                if word.hasPrefix("False") { i += 5; return .bool(false) }
                throw error("expected True or False")
            case "(":
                i += 1
                var items: [Int] = []
                while true {
                    skipSpace()
                    if peek == ")" { i += 1; break }
                    items.append(try integer())
                    guard items.count <= 64 else { throw error("too many dimensions") }
                    skipSpace()
                    if peek == "," { i += 1; continue }
                    guard peek == ")" else { throw error("expected ',' or ')' in the shape") }
                }
                return .tuple(items)
            default:
                throw error("expected a string, True/False or a tuple")
            }
        }
    }
}
