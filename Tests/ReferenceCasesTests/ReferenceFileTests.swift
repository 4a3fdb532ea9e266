import Loss
import ReferenceCases
import Testing

@Suite struct ReferenceFileTests {
    func parse(_ text: String) throws -> ReferenceFile { try ReferenceFile(bytes: Array(text.utf8), path: "t.json") }

    let valid = """
        {"format":"loss-reference/1","cases":[{"id":"a","function":"mse_loss","options":{"reduction":"sum"},
        "inputs":{"input":{"shape":[2],"dtype":"float32","data":[0.0,3.0]},"target":{"shape":[2],"dtype":"float32","data":[1,0]}},
        "output":{"shape":[],"dtype":"float32","data":[10.0]},"upstream":{"shape":[],"dtype":"float32","data":[1.0]},
        "gradients":{"input":{"shape":[2],"dtype":"float32","data":[-2.0,"Infinity"]}}}]}
        """

    @Test func parsesCasesKeepingInputOrderAndSpecialNumbers() throws {
        let file = try parse(valid)
        #expect(file.cases.count == 1)
        let c = file.cases[0]
        #expect(c.inputs.map(\.name) == ["input", "target"])
        #expect(c.options["reduction"] == .string("sum"))
        #expect(c.gradients["input"]!.values[1] == .infinity)
    }

    @Test func verifierReportsAWrongExpectedValueAsAFailure() throws {
        let c = try parse(valid).cases[0]
        let r = Verifier.run(c, precision: .double)
        #expect(r.status == .fail)  // the file's gradient [ -2, inf ] is wrong on purpose: want [-2, 6]
        #expect(r.message?.contains("gradient of input[1]") == true)
    }

    @Test func listOptionsAreReadAsLists() throws {
        let text = valid.replacingOccurrences(of: "\"options\":{\"reduction\":\"sum\"}", with: "\"options\":{\"dim\":[0,-1],\"other\":[]}")
        let c = try parse(text).cases[0]
        #expect(c.options["dim"] == .list([.int(0), .int(-1)]))
        #expect(c.options["other"] == .list([]))
    }

    /// An int64 tensor where the loss takes values is promoted to floating point, as
    /// PyTorch promotes it: `margin_ranking_loss([0.5, -1], [0.25, 0.5], int64 [1, -1],
    /// margin=0.5)` is 0.125 in PyTorch, gradients [-0.5, 0] and [0.5, 0].
    @Test(arguments: Precision.floatAndDouble)
    func integerTargetOfAValuesInputIsPromoted(precision: Precision) throws {
        let text = """
            {"format":"loss-reference/1","cases":[{"id":"r","function":"margin_ranking_loss","options":{"margin":0.5},
            "inputs":{"input1":{"shape":[2],"dtype":"float32","data":[0.5,-1.0]},"input2":{"shape":[2],"dtype":"float32","data":[0.25,0.5]},
            "target":{"shape":[2],"dtype":"int64","data":[1,-1]}},
            "output":{"shape":[],"dtype":"float32","data":[0.125]},"upstream":{"shape":[],"dtype":"float32","data":[1.0]},
            "gradients":{"input1":{"shape":[2],"dtype":"float32","data":[-0.5,0.0]},"input2":{"shape":[2],"dtype":"float32","data":[0.5,0.0]}}}]}
            """
        let r = Verifier.run(try parse(text).cases[0], precision: precision)
        #expect(r.status == .pass, "\(r.message ?? "")")
    }

    /// The input kinds decide: int64 stays indices for an index input and for one that
    /// takes either (an integer cross-entropy target is class indices).
    @Test func integerTensorsFollowTheInputSpec() throws {
        let t = ReferenceTensor(shape: [2], dtype: .int64, values: [], integers: [1, -1])
        guard case .values(let v) = try Verifier.lossInput(t, kind: .values, as: Float.self) else {
            Issue.record("not promoted")
            return
        }
        #expect(v.scalars == [1, -1])
        for kind in [InputSpec.Kind.indices, .indicesOrValues] {
            guard case .indices(let i) = try Verifier.lossInput(t, kind: kind, as: Float.self) else {
                Issue.record("\(kind) promoted")
                continue
            }
            #expect(i.scalars == [1, -1])
        }
    }

    @Test(arguments: [
        ("", "is not valid JSON"),
        ("[1, 2]", "is not a JSON object"),
        ("{\"format\":\"other/2\",\"cases\":[]}", "has format \"other/2\""),
        ("{\"format\":\"loss-reference/1\"}", "has no \"cases\" array"),
        ("{\"format\":\"loss-reference/1\",\"cases\":[{\"function\":\"x\"}]}", "has no string \"id\""),
        ("{\"format\":\"loss-reference/1\",\"cases\":[{\"id\":\"a\",\"function\":\"mse_loss\",\"inputs\":{\"input\":{\"shape\":[3],\"data\":[1,2]}}}]}", "2 values for shape [3]"),
        ("{\"format\":\"loss-reference/1\",\"cases\":[{\"id\":\"a\",\"function\":\"f\",\"inputs\":{\"t\":{\"shape\":[1],\"dtype\":\"int64\",\"data\":[1.5]}}}]}", "non-integer"),
        ("{\"format\":\"loss-reference/1\",\"cases\":[{\"id\":\"a\",\"function\":\"f\",\"inputs\":{\"t\":{\"shape\":[1],\"data\":[\"nan\"]}}}]}", "where a number belongs"),
        ("{\"format\":\"loss-reference/1\",\"cases\":[{\"id\":\"a\" \"function\":\"f\"}]}", "expected ',' or '}'"),
    ])
    func malformedFilesNameTheProblem(text: String, reason: String) {
        do {
            _ = try parse(text)
            Issue.record("parsed a malformed file: \(text)")
        } catch let LossError.malformedFile(path, message) {
            #expect(path == "t.json")
            #expect(message.contains(reason), "\(message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func unknownFunctionsAndOptionsAreUnsupportedNotFailed() throws {
        var c = try parse(valid).cases[0]
        c.function = "no_such_loss"
        #expect(Verifier.run(c, precision: .float).status == .unsupported)
        c.function = "mse_loss"
        c.options["frobnicate"] = .bool(true)
        #expect(Verifier.run(c, precision: .float).status == .unsupported)
    }
}
