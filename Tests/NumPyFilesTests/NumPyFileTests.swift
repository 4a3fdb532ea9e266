import Foundation
import NumPyFiles
import Testing
import _TestSupport

/// The .npy reader and writer: fixtures written by NumPy (Tests/Fixtures/npy/make_fixtures.py),
/// round trips, and malformed files that must be clear errors, never crashes.
@Suite struct NumPyFileTests {
    static func fixture(_ name: String) -> String { TestSupport.repositoryRoot + "/Tests/Fixtures/npy/" + name }
    static func load(_ name: String) throws -> NPYArray { try NPYArray(contentsOf: fixture(name)) }
    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name)))) }

    @Test func readsEverySupportedDTypeWrittenByNumPy() throws {
        let f32 = try Self.load("f32_2x3.npy")
        #expect(f32.shape == [2, 3])
        #expect(f32.values == .float32([1.5, -2.0, 0.25, 3.0, 4.0, -0.125]))
        let f64 = try Self.load("f64_vec.npy")
        #expect(f64.values == .float64([0.1, -1e-300, 1e300, 2.5]))
        #expect(try Self.load("i64_vec.npy").values == .int64([1, 0, -100, 1 << 40]))
        let i32 = try Self.load("i32_2x2.npy")
        #expect(i32.shape == [2, 2] && i32.values == .int32([1, -2, 3, Int32.max]))
        let scalar = try Self.load("f64_scalar.npy")
        #expect(scalar.shape == [] && scalar.values == .float64([3.25]))
        let empty = try Self.load("f32_empty_0x3.npy")
        #expect(empty.shape == [0, 3] && empty.count == 0)
        let f16 = try Self.load("f16_2x2.npy")
        #expect(f16.shape == [2, 2] && f16.values == .float16([1.5, -65504, Float16(0.1), Float16(6e-8)]))
        #expect(f16.dtype.size == 2 && f16.dtype.name == "float16")
    }

    @Test func readsFormatVersionsTwoAndThree() throws {
        let v2 = try Self.load("f64_v2.npy")
        #expect(v2.shape == [3, 2] && v2.values == .float64([0, 1, 2, 3, 4, 5]))
        #expect(try Self.bytes("f64_v2.npy")[6] == 2)
        let v3 = try Self.load("f32_v3.npy")
        #expect(v3.shape == [4] && v3.values == .float32([0, 1, 2, 3]))
        #expect(try Self.bytes("f32_v3.npy")[6] == 3)
    }

    @Test func writesWhatNumPyWrites() throws {
        // NumPy's own bytes for the same array: same header, same padding, same data.
        let original = try Self.bytes("f32_2x3.npy")
        #expect(try NPYArray(npyBytes: original).npyBytes() == original)
        for name in ["f64_vec.npy", "i64_vec.npy", "i32_2x2.npy", "f64_scalar.npy", "f32_empty_0x3.npy", "f16_2x2.npy"] {
            #expect(try NPYArray(npyBytes: Self.bytes(name)).npyBytes() == Self.bytes(name), "\(name)")
        }
    }

    @Test func roundTripsEveryDType() throws {
        let arrays = [
            try NPYArray(shape: [3], values: .float32([1, .infinity, -0.0])),
            try NPYArray(shape: [1, 2], values: .float64([.pi, -1e-310])),
            try NPYArray(shape: [2, 1, 1], values: .int32([Int32.min, 7])),
            try NPYArray(shape: [], values: .int64([Int64.max])),
            try NPYArray(shape: [2], values: .float16([.infinity, -Float16.leastNonzeroMagnitude])),
        ]
        for a in arrays { #expect(try NPYArray(npyBytes: a.npyBytes()) == a) }
        let nan = try NPYArray(npyBytes: NPYArray(shape: [1], values: .float64([.nan])).npyBytes())
        #expect(nan.doubles[0].isNaN)
        let bytes = arrays[0].npyBytes()
        #expect((bytes.count - 3 * 4) % 64 == 0)  // data aligned to 64 bytes, as NumPy does
    }

    @Test func rejectsUnsupportedFilesWithClearErrors() throws {
        #expect(throws: NPYError.unsupportedDType(">f4")) { try Self.load("bad_big_endian.npy") }
        #expect(throws: NPYError.fortranOrder) { try Self.load("bad_fortran.npy") }
        #expect(throws: NPYError.unsupportedDType("|u1")) { try Self.load("bad_uint8.npy") }
        #expect(throws: NPYError.io(path: "/nonexistent.npy", reason: "no such file")) {
            try NPYArray(contentsOf: "/nonexistent.npy")
        }
        #expect(throws: NPYError.notNumPy) { try NPYArray(npyBytes: Array("hello, world".utf8)) }
        var wrongVersion = try Self.bytes("f32_2x3.npy")
        wrongVersion[6] = 4
        #expect(throws: NPYError.unsupportedVersion(major: 4, minor: 0)) { try NPYArray(npyBytes: wrongVersion) }
        #expect(throws: NPYError.trailingBytes(1)) { try NPYArray(npyBytes: Self.bytes("f32_2x3.npy") + [0]) }
        // A device (/dev/zero never ends) or a directory is refused before it is read.
        #expect(throws: NPYError.io(path: "/dev/zero", reason: "is a device or socket, not a .npy file")) {
            try NPYArray(contentsOf: "/dev/zero")
        }
        #expect(throws: NPYError.io(path: "/", reason: "is a directory, not a .npy file")) { try NPYArray(contentsOf: "/") }
    }

    /// A header with the given text and correct framing, then `data`.
    static func file(header: String, data: [UInt8] = []) -> [UInt8] {
        let text = Array((header + "\n").utf8)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text + data
    }

    @Test func rejectsMalformedHeaders() throws {
        let cases = [
            "{'descr': '<f4', 'fortran_order': False}",  // no shape
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
            "['descr', '<f4']",
            "",
        ]
        for header in cases {
            #expect(throws: NPYError.self, "\(header)") { try NPYArray(npyBytes: Self.file(header: header, data: [UInt8](repeating: 0, count: 8))) }
        }
        // A well-formed header parses (the helper itself is right).
        let good = try NPYArray(npyBytes: Self.file(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: [0, 0, 128, 63, 0, 0, 0, 64]))
        #expect(good.values == .float32([1, 2]))
    }

    /// Every prefix of a valid file, and every single-byte corruption of its header,
    /// must be an error or a valid array: never a trap.
    @Test func truncatedAndCorruptedFilesNeverCrash() throws {
        let original = try Self.bytes("f64_v2.npy")
        for length in 0..<original.count {
            #expect(throws: NPYError.self) { try NPYArray(npyBytes: Array(original.prefix(length))) }
        }
        var g = SplitMix(seed: 7)
        for _ in 0..<2000 {
            var corrupt = original
            let position = Int(g.next() % UInt64(min(original.count, 128)))
            corrupt[position] = UInt8(truncatingIfNeeded: g.next())
            _ = try? NPYArray(npyBytes: corrupt)
        }
    }
}

/// A tiny deterministic generator for the corruption test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
