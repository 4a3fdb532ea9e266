// Threads: every C entry point takes a thread count and splits rows itself on a
// persistent pool (CLossKernels/pool.c), so that no call allocates; see lk_kernels.h.

import CLossKernels

/// The most threads a kernel call runs on: the caller and the pool's workers
/// (`lk_max_threads` in CLossKernels). A larger `threads` is an error everywhere
/// (the library, `losskit bench`, `losskit eval`), not a number silently lowered.
public let maximumThreadCount = Int(lk_max_threads())

@usableFromInline
func checkThreads(_ threads: Int) throws {
    guard threads >= 1 && threads <= maximumThreadCount else {
        throw LossError.invalidOption(
            name: "threads", value: String(threads), expected: "a thread count from 1 to \(maximumThreadCount)")
    }
}
