import Foundation
import Testing

/// `losskit bench` is a contract other tooling (`make compare`) depends on: its JSON object,
/// and exit status 2 with a message for bad arguments.
@Suite struct BenchCommandTests {
    @Test func jsonReportHasTheContractFields() throws {
        for op in ["cross-entropy", "softmax", "log-softmax", "logsumexp", "mse", "bce-with-logits"] {
            let shape = op == "mse" || op == "bce-with-logits" ? "1000" : "8x10"
            let r = try runLossKit(["bench", op, "--shape", shape, "--repeat", "3", "--threads", "2", "--offset", "5", "--json"])
            #expect(r.status == 0, "\(op): \(r.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            #expect(object?["op"] as? String == op)
            #expect(object?["threads"] as? Int == 2)
            #expect(object?["runs"] as? Int == 3)
            #expect(object?["shape"] as? String == shape)
            let median = object?["median_ns"] as? Double ?? (object?["median_ns"] as? Int).map(Double.init)
            let minimum = object?["min_ns"] as? Double ?? (object?["min_ns"] as? Int).map(Double.init)
            #expect(median != nil && minimum != nil && minimum! > 0 && minimum! <= median!, "\(op): \(r.stdout)")
            #expect(object?["peak_rss_bytes"] != nil)
            #expect(object?["dtype"] as? String == "float")
        }
    }

    /// `--dtype` times 16-bit (and Double) buffers and says so in the report.
    @Test func dtypeChoosesTheElementType() throws {
        for dtype in ["double", "float16", "bfloat16"] {
            for op in ["cross-entropy", "log-softmax", "mse"] {
                let shape = op == "mse" ? "1000" : "8x10"
                let r = try runLossKit(["bench", op, "--shape", shape, "--repeat", "2", "--dtype", dtype, "--json"])
                #expect(r.status == 0, "\(op) \(dtype): \(r.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
                #expect(object?["dtype"] as? String == dtype)
            }
        }
        #expect(try runLossKit(["bench", "mse", "--shape", "10", "--dtype", "float8"]).status == 2)
    }

    /// `--inner` times a class axis that is not last: ROWSxCOLUMNSxINNER in the report.
    @Test func innerTimesAClassAxisThatIsNotLast() throws {
        for op in ["cross-entropy", "cross-entropy-forward", "softmax", "log-softmax", "logsumexp"] {
            let r = try runLossKit(["bench", op, "--shape", "3x10", "--inner", "37", "--repeat", "2", "--json"])
            #expect(r.status == 0, "\(op): \(r.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            #expect(object?["shape"] as? String == "3x10x37", "\(op): \(r.stdout)")
        }
    }

    @Test func badArgumentsExitWithStatusTwoAndAMessage() throws {
        let cases: [([String], String)] = [
            (["softmax", "--shape", "0x3"], "--shape"),
            (["softmax", "--shape", "4xabc"], "--shape"),
            (["softmax", "--shape", "4x4", "--threads", "0"], "--threads"),
            (["softmax", "--shape", "4x4", "--repeat", "0"], "--repeat"),
            // Runs are kept (8 bytes each) and the pool has a fixed size: both are bounded.
            (["mse", "--shape", "100", "--repeat", "9223372036854775807"], "--repeat must be between 1 and 100000"),
            (["mse", "--shape", "100", "--repeat", "1000000000"], "--repeat must be between 1 and 100000"),
            (["softmax", "--shape", "4x4", "--threads", "100000"], "--threads must be between 1 and"),
            (["softmax", "--shape", "4x4", "--offset", "16"], "--offset"),
            (["softmax", "--shape", "4x4", "--offset", "-1"], "offset"),
            (["no-such-op", "--shape", "4x4"], "no-such-op"),
            (["linear-cross-entropy", "--shape", "4x4"], "NxDxV"),
            (["mse", "--shape", "100", "--inner", "4"], "--inner applies to"),
            (["softmax", "--shape", "4x4", "--inner", "0"], "--inner must be"),
        ]
        for (arguments, message) in cases {
            let r = try runLossKit(["bench"] + arguments)
            #expect(r.status == 2 && r.stderr.contains(message), "\(arguments): status \(r.status), \(r.stderr)")
        }
    }
}
