// Threads: every C entry point takes a thread count and splits rows itself on a
// persistent pool (CLossKernels/pool.c), so that no call allocates; see lk_kernels.h.

@usableFromInline
func checkThreads(_ threads: Int) throws {
    guard threads >= 1 else {
        throw LossError.invalidOption(name: "threads", value: String(threads), expected: "a thread count of at least 1")
    }
}
