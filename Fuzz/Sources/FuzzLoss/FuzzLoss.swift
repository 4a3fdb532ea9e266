import Loss

/// libFuzzer entry point: build a loss from the bytes (see LossFuzzInput), run
/// it forward and backward in Double and Float. Any trap is a finding, and so is
/// a disagreement between the precisions (a LossError in one only, or numbers
/// beyond the loose bound for finite, well-conditioned inputs).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLoss(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = LossFuzzInput(bytes: Array(UnsafeBufferPointer(start: data, count: size)))
    if let problem = input.floatDoubleMismatch() { fatalError(problem) }
    return 0
}
