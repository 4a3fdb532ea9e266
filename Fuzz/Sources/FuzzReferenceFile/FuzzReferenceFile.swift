import Loss
import ReferenceCases

/// libFuzzer entry point: parse the bytes as a reference file; on success run
/// every (small) case through the verifier in both precisions. Any trap is a finding;
/// errors must be LossError.malformedFile.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReferenceFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let file: ReferenceFile
    do {
        file = try ReferenceFile(bytes: bytes, path: "fuzz.json")
    } catch LossError.malformedFile {
        return 0
    } catch {
        fatalError("the reader threw something other than malformedFile: \(error)")
    }
    for c in file.cases {
        let sizes = c.inputs.map { $0.tensor.shape.reduce(1, *) } + [c.output.shape.reduce(1, *)]
        guard sizes.allSatisfy({ $0 <= 4096 }) else { continue }
        for precision in Precision.allCases { _ = Verifier.run(c, precision: precision) }
    }
    return 0
}
