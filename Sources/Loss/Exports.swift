// `Loss` re-exports `Kernels`: `LossError`, `KernelScalar` and the kernels are
// part of the loss layer's vocabulary.
@_exported import Kernels
