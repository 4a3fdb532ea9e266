import NumPyFiles

/// libFuzzer entry point: parse the bytes as a .npy file. Any trap is a finding; a
/// file that parses must survive a round trip through the writer unchanged (same
/// shape, same values bit for bit: NaN payloads are compared as bits).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let array = try? NPYArray(npyBytes: bytes) else { return 0 }
    let again: NPYArray
    do {
        again = try NPYArray(npyBytes: array.npyBytes())
    } catch {
        fatalError("a parsed array did not read back after writing: \(error)")
    }
    guard again.shape == array.shape, again.dtype == array.dtype, same(again.values, array.values) else {
        fatalError("round trip changed the array: \(array.shape) \(array.dtype)")
    }
    return 0
}

func same(_ a: NPYArray.Values, _ b: NPYArray.Values) -> Bool {
    switch (a, b) {
    case let (.float16(x), .float16(y)): return x.map(\.bitPattern) == y.map(\.bitPattern)
    case let (.float32(x), .float32(y)): return x.map(\.bitPattern) == y.map(\.bitPattern)
    case let (.float64(x), .float64(y)): return x.map(\.bitPattern) == y.map(\.bitPattern)
    default: return a == b
    }
}
