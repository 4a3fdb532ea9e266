import ArgumentParser
import Foundation
import Loss
import ReferenceCases

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check LossKit against reference results computed by PyTorch.",
        discussion: """
            Each FILE is in the "loss-reference/1" format (see make_cases.py): cases with a
            function, options, inputs, PyTorch's float64 output and gradients. Every case is
            evaluated through the public Loss API, forward and backward, and compared:
              float:  |got - want| <= 1e-4 |want| + 1e-5 max|want|
              double: |got - want| <= 1e-9 |want| + 1e-10 max|want|
                      + 1e-13 max(1, max|output|), times max|upstream| for gradients
                      (float64 references are exact only to ~1e-16 of the terms of order
                      one they are computed from, however small the result)
            One line is printed per failing or unsupported case, then "N passed, M failed, K skipped"
            (case ids and messages from the file with control characters escaped).
            A case whose only mismatches are differences LossKit documents as deliberate (the
            focal losses' gradients where PyTorch's are NaN), or that LossKit refuses by design
            (an input outside the loss's domain that PyTorch computes with, such as kl_div's
            negative targets: see the README), is printed as DIFF with the reason, and counted
            as ", D differ by design" after the summary.
            Exit status: 0 when everything passed or differs by design, 1 when a case failed or
            was skipped (unsupported function or option), 2 when a file cannot be read or is not
            of the format.

            Examples:
              losskit verify Tests/Fixtures/torch-cases.json --precision double
              losskit verify Tests/Fixtures/torch-cases-bfloat16.json        # in the file's bfloat16
            """
    )

    @Argument(help: "Reference files to check.")
    var files: [String]

    @Option(help: "Evaluate in float, double, half (Float16) or bfloat16 (default: each file's dtype: float32 files in float, float16 in half, bfloat16 in bfloat16).")
    var precision: Precision?

    @Flag(help: "Print one JSON object per case, then the summary line.")
    var json = false

    func run() throws {
        var loaded: [ReferenceFile] = []
        for path in files {
            do {
                loaded.append(try ReferenceFile(contentsOf: path))
            } catch {
                printError("losskit verify: " + printable("\(error)"))
                throw ExitCode(2)
            }
        }
        var passed = 0, failed = 0, skipped = 0, differs = 0
        for file in loaded {
            for c in file.cases {
                let r = Verifier.run(c, precision: precision ?? Precision(file.dtype))
                switch r.status {
                case .pass: passed += 1
                case .fail: failed += 1
                case .unsupported: skipped += 1
                case .differs: differs += 1
                }
                if json {
                    print(jsonLine(r))
                } else if r.status != .pass {
                    let error = r.maxError.map { ", worst |Δ| \($0)" } ?? ""
                    let label = r.status == .fail ? "FAIL" : r.status == .differs ? "DIFF" : "SKIP"
                    // The id and message come from the file: shown escaped, so that they can add
                    // no line of their own (a fake summary) and send no terminal control sequence.
                    print("\(label) \(printable(r.id)): \(printable(r.message ?? ""))\(r.status == .fail ? error : "")")
                }
            }
        }
        print("\(passed) passed, \(failed) failed, \(skipped) skipped" + (differs > 0 ? ", \(differs) differ by design" : ""))
        if failed > 0 || skipped > 0 { throw ExitCode(1) }
    }

    func jsonLine(_ r: CaseResult) -> String {
        let error = r.maxError.flatMap { $0.isFinite ? String($0) : nil } ?? "null"
        var fields = [
            "\"id\": \(jsonString(r.id))", "\"function\": \(jsonString(r.function))",
            "\"status\": \"\(r.status.rawValue)\"", "\"max_error\": \(error)",
        ]
        if let m = r.message { fields.append("\"message\": \(jsonString(m))") }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}

extension Precision: @retroactive ExpressibleByArgument {}

/// `s` with every control character (C0, DEL, C1, and the bidirectional overrides that
/// reorder a terminal line) written as a `\u{…}` escape, and a backslash as `\\`: text from a
/// file, shown on one line as it is.
func printable(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        if scalar == "\\" {
            out += "\\\\"
        } else if isControl(scalar) {
            out += "\\u{" + String(scalar.value, radix: 16) + "}"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates.
func isControl(_ scalar: Unicode.Scalar) -> Bool {
    let v = scalar.value
    return v < 0x20 || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
        || v == 0x200E || v == 0x200F || v == 0x061C
}

/// A JSON string literal; control characters (see ``isControl(_:)``) as `\u` escapes.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if isControl(scalar) {
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
