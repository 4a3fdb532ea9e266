import Dispatch

/// Below this many elements per thread, splitting costs more than it saves.
@usableFromInline let minimumElementsPerThread = 1 << 15

/// Splits `outer` blocks of `elementsPerBlock` elements into contiguous ranges,
/// at most `threads` of them and none smaller than `minimumElementsPerThread`,
/// and runs `body` on each (concurrently when there is more than one).
///
/// Every kernel computes each row independently of the others, so the split
/// changes no result: outputs are bitwise identical for any thread count.
@usableFromInline
func splitBlocks(_ outer: Int, elementsPerBlock: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    let total = outer * max(elementsPerBlock, 1)
    let byWork = max(1, total / minimumElementsPerThread)
    let parts = max(1, min(threads, outer, byWork))
    if parts == 1 {
        body(0..<outer)
        return
    }
    // The parts write disjoint rows, which is what makes sharing `body` safe.
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let lower = outer * part / parts
            let upper = outer * (part + 1) / parts
            shared.value(lower..<upper)
        }
    }
}

/// Carries a value into concurrent work whose safety the kernel guarantees
/// (each thread touches its own rows only). `@unchecked` because the value is a
/// non-Sendable closure over raw pointers; `splitBlocks` gives each part a
/// disjoint range of rows and returns only after every part has finished
/// (`concurrentPerform` is synchronous), so no write is shared or outlives the call.
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @usableFromInline init(_ value: Value) { self.value = value }
}

@usableFromInline
func checkThreads(_ threads: Int) throws {
    guard threads >= 1 else {
        throw LossError.invalidOption(name: "threads", value: String(threads), expected: "a thread count of at least 1")
    }
}
