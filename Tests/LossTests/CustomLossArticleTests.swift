import Loss
import Testing

/// The code of the DocC article "Writing your own loss" (Loss.docc/WritingYourOwnLoss.md),
/// run as written; values are checked against closed forms and gradients by GradientCheck.
@Suite struct CustomLossArticleTests {
    /// The Cauchy loss `log(1 + (x − y)²)`, generic over LossKit's scalars.
    struct CauchyLoss<Scalar: KernelScalar>: ElementwiseLoss {
        var reduction: Reduction = .mean

        func value(input x: Scalar, target y: Scalar) -> Scalar {
            Scalar.log(onePlus: (x - y) * (x - y))
        }

        func derivatives(input x: Scalar, target y: Scalar) -> (input: Scalar, target: Scalar) {
            let d = x - y, g = 2 * d / (1 + d * d)
            return (g, -g)
        }
    }

    /// The Euclidean distance between each row of `input` and of `target`, averaged over rows.
    struct RowDistanceLoss: InputTargetLoss {
        typealias Scalar = Double

        var inputSpecs: [InputSpec] { [.values("input"), .values("target")] }

        func forward(_ inputs: LossInputs<Double>) throws -> Tensor<Double> {
            try validate(inputs)
            let (x, y) = try operands(inputs)
            let distances = rowDistances(x, y)
            return Tensor(scalar: distances.reduce(0, +) / Double(distances.count))
        }

        func backward(_ inputs: LossInputs<Double>, upstream: Tensor<Double>) throws -> [String: Tensor<Double>] {
            try validate(inputs)
            let (x, y) = try operands(inputs)
            let (rows, columns) = (x.shape[0], x.shape[1])
            let distances = rowDistances(x, y)
            let g = upstream.scalar! / Double(rows)
            var dx = [Double](repeating: 0, count: x.count)
            for r in 0..<rows where distances[r] > 0 {
                for c in 0..<columns {
                    let k = r * columns + c
                    dx[k] = g * (x[flat: k] - y[flat: k]) / distances[r]
                }
            }
            let gradient = try Tensor(shape: x.shape, scalars: dx)
            return ["input": gradient, "target": gradient.map { -$0 }]
        }

        private func operands(_ inputs: LossInputs<Double>) throws -> (Tensor<Double>, Tensor<Double>) {
            let x = try inputs.values("input"), y = try inputs.values("target")
            guard x.rank == 2, y.shape == x.shape else {
                throw LossError.shapeMismatch(
                    argument: "target", expected: "\(x.shape), a matrix like the input", actual: "\(y.shape)")
            }
            return (x, y)
        }

        private func rowDistances(_ x: Tensor<Double>, _ y: Tensor<Double>) -> [Double] {
            let columns = x.shape[1]
            return (0..<x.shape[0]).map { r in
                (0..<columns).map { c -> Double in
                    let d = x[flat: r * columns + c] - y[flat: r * columns + c]
                    return d * d
                }.reduce(0, +).squareRoot()
            }
        }
    }

    @Test func elementwiseLoss() throws {
        let cauchy = CauchyLoss<Float>()
        let loss = try cauchy(Tensor([0, 3]), Tensor([1, 0]))
        print(loss)
        // (log 2 + log 10) / 2 = log(20) / 2
        #expect(abs(Double(loss.scalar!) - Double.log(20) / 2) < 1e-6)

        var rng = SeededGenerator(seed: 1)
        let inputs = LossInputs<Double>([
            "input": .values(try Tensor.randomNormal(shape: [4, 3], using: &rng)),
            "target": .values(try Tensor.randomNormal(shape: [4, 3], using: &rng)),
        ])
        let report = try GradientCheck.check(CauchyLoss<Double>(), inputs: inputs)
        print(report)
        #expect(report.passes(tolerance: 1e-7) && report.checked == 24)
    }

    @Test func fullProtocol() throws {
        let x = try Tensor<Double>(shape: [2, 2], scalars: [3, 4, 1, 1])
        let y = try Tensor<Double>(shape: [2, 2], scalars: [0, 0, 1, 2])
        let result = try RowDistanceLoss().valueWithGradient(x, y)
        print(result.value, result.gradient.scalars)
        // rows at distances 5 and 1: mean 3; gradient (x − y) / (distance · N)
        #expect(result.value.scalar == 3)
        #expect(result.gradient.scalars == [0.3, 0.4, 0, -0.5])

        var rng = SeededGenerator(seed: 2)
        let inputs = LossInputs<Double>([
            "input": .values(try Tensor.randomNormal(shape: [3, 4], using: &rng)),
            "target": .values(try Tensor.randomNormal(shape: [3, 4], using: &rng)),
        ])
        let report = try GradientCheck.check(RowDistanceLoss(), inputs: inputs)
        print(report)
        #expect(report.passes())
        #expect(throws: LossError.self) { try RowDistanceLoss()(x, Tensor([1, 2])) }
        #expect(throws: LossError.unknownInput(name: "wieght", expected: ["input", "target"])) {
            try RowDistanceLoss().forward(LossInputs(["input": .values(x), "target": .values(y), "wieght": .values(y)]))
        }
    }
}
