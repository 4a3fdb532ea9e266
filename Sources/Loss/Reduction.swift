/// How a loss combines its per-element (or per-sample) values, as PyTorch's
/// `reduction` argument. Every loss in LossKit defaults to `.mean`.
public enum Reduction: String, Sendable, CaseIterable, Equatable {
    /// Keep one value per element (or per sample).
    case none
    /// The mean over elements. Some losses divide by something else, as PyTorch
    /// does (cross-entropy with class weights divides by the sum of the target
    /// classes' weights): each loss's documentation says which.
    case mean
    /// The sum over elements.
    case sum
}
