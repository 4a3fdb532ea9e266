import Loss
import ReferenceCases
import Testing
import _TestSupport

// Bad reference files and bad cases: the reader must throw
// LossError.malformedFile naming the file and the problem (never trap, never
// accept a file whose expectations compare nothing), and the verifier must turn
// a bad case into a failure with a message, not a crash or a pass.
// (.npy and CSV readers are being written elsewhere; their tables go here too.)

private let header = #"{"format":"loss-reference/1","cases":["#
private let footer = "]}"
private let input = #""inputs":{"input":{"shape":[2],"data":[0.0,3.0]},"target":{"shape":[2],"data":[1,0]}}"#
private let output = #""output":{"shape":[],"data":[10.0]}"#
private let upstream = #""upstream":{"shape":[],"data":[1.0]}"#

/// A one-case file whose case has `fields` spliced in.
private func file(_ fields: String, id: String = "a") -> String {
    header + #"{"id":""# + id + #"","function":"mse_loss","options":{"reduction":"sum"},"# + fields + "}" + footer
}

private func malformed(_ reason: String) -> LossError { .malformedFile(path: "bad.json", reason: reason) }

private func parse(_ text: String) throws { _ = try ReferenceFile(bytes: Array(text.utf8), path: "bad.json") }

private let duplicateInput = file(
    #""inputs":{"input":{"shape":[1],"data":[5]},"input":{"shape":[2],"data":[0.0,3.0]},"target":{"shape":[2],"data":[1,0]}},"#
        + output + "," + upstream)
private let duplicateFormat = #"{"format":"x", "format":"loss-reference/1","cases":[]}"#

/// The byte offset of the first occurrence of `needle` in `text` (where the parser reports
/// a repeated key: at the key's opening quote).
private func offset(of needle: String, in text: String) -> Int {
    let bytes = Array(text.utf8), n = Array(needle.utf8)
    return (0...(bytes.count - n.count)).first { Array(bytes[$0..<($0 + n.count)]) == n }!
}

let referenceBadInputs: [BadInput] = [
    BadInput(
        "expected output stored as int64 (was compared against nothing and passed)",
        malformed(#"case "a": output must be a floating-point tensor, not int64"#)
    ) { try parse(file(input + #","output":{"shape":[],"dtype":"int64","data":[10]},"# + upstream)) },
    BadInput(
        "expected gradient stored as int64 (was compared against nothing and passed)",
        malformed(#"case "a": gradients.input must be a floating-point tensor, not int64"#)
    ) {
        try parse(file(input + "," + output + "," + upstream + #","gradients":{"input":{"shape":[2],"dtype":"int64","data":[-2,6]}}"#))
    },
    BadInput("upstream stored as int64", malformed(#"case "a": upstream must be a floating-point tensor, not int64"#)) {
        try parse(file(input + "," + output + #","upstream":{"shape":[],"dtype":"int64","data":[1]}"#))
    },
    BadInput("negative shape entry", malformed(#"case "a": inputs.input has an invalid shape entry"#)) {
        try parse(file(#""inputs":{"input":{"shape":[-2],"data":[]}},"# + output + "," + upstream))
    },
    BadInput("fractional shape entry", malformed(#"case "a": inputs.input has an invalid shape entry"#)) {
        try parse(file(#""inputs":{"input":{"shape":[1.5],"data":[1]}},"# + output + "," + upstream))
    },
    BadInput("shape whose product overflows", malformed(#"case "a": inputs.input has a shape too large"#)) {
        try parse(file(#""inputs":{"input":{"shape":[1099511627775,1099511627775],"data":[]}},"# + output + "," + upstream))
    },
    BadInput("unsupported dtype", malformed(#"case "a": inputs.input has an unsupported dtype"#)) {
        try parse(file(#""inputs":{"input":{"shape":[1],"dtype":"complex64","data":[1]}},"# + output + "," + upstream))
    },
    BadInput("data longer than the shape", malformed(#"case "a": inputs.input has 3 values for shape [2] (2 expected)"#)) {
        try parse(file(#""inputs":{"input":{"shape":[2],"data":[1,2,3]}},"# + output + "," + upstream))
    },
    BadInput("boolean in float data", malformed(#"case "a": inputs.input holds a non-number"#)) {
        try parse(file(#""inputs":{"input":{"shape":[1],"data":[true]}},"# + output + "," + upstream))
    },
    BadInput("duplicate case id", malformed(#"case id "a" appears twice"#)) {
        let one = #"{"id":"a","function":"mse_loss","# + input + "," + output + "," + upstream + "}"
        try parse(header + one + "," + one + footer)
    },
    BadInput(
        "a key twice in inputs (the last value would have counted)",
        malformed(#"is not valid JSON (invalid JSON at byte \#(offset(of: #""input":{"shape":[2]"#, in: duplicateInput)): the key "input" appears twice in one object)"#)
    ) { try parse(duplicateInput) },
    BadInput(
        "a key twice at the top level (the first value would have counted)",
        malformed(#"is not valid JSON (invalid JSON at byte \#(offset(of: #""format":"loss"#, in: duplicateFormat)): the key "format" appears twice in one object)"#)
    ) { try parse(duplicateFormat) },
    BadInput(
        "a shape without elements claiming 2^39 rows",
        malformed(#"case "a": inputs.input has a shape without elements whose other sizes multiply to more than 16777216"#)
    ) {
        try parse(file(#""inputs":{"input":{"shape":[549755813887,0],"data":[]}},"# + output + "," + upstream))
    },
    BadInput("option that is an object", malformed(#"case "a": option reduction is an object"#)) {
        try parse(header + #"{"id":"a","function":"mse_loss","options":{"reduction":{"x":1}},"# + input + "," + output + "," + upstream + "}" + footer)
    },
    BadInput("missing output", malformed(#"case "a": output is missing or not an object"#)) {
        try parse(file(input + "," + upstream))
    },
    BadInput("inputs that are a list", malformed(#"case "a": no "inputs" object"#)) {
        try parse(file(#""inputs":[1,2],"# + output + "," + upstream))
    },
    BadInput("case that is a number", malformed("case 0 is not an object")) { try parse(header + "42" + footer) },

    // MARK: JSON syntax
    BadInput("nesting 600 deep", malformed("is not valid JSON (invalid JSON at byte 512: nesting deeper than 512)")) {
        try parse(String(repeating: "[", count: 600) + String(repeating: "]", count: 600))
    },
    BadInput("number out of Double's range", malformed("is not valid JSON (invalid JSON at byte 9: invalid number 1e999)")) {
        try parse(#"{"cases":1e999}"#)
    },
    BadInput("lone minus sign", malformed("is not valid JSON (invalid JSON at byte 9: expected a value)")) {
        try parse(#"{"cases":-}"#)
    },
    BadInput("unterminated string", malformed("is not valid JSON (invalid JSON at byte 15: unterminated string)")) {
        try parse(#"{"format":"loss"#)
    },
    BadInput("truncated \\u escape", malformed("is not valid JSON (invalid JSON at byte 12: invalid \\u escape)")) {
        try parse(#"{"format":"\u12"}"#)
    },
    BadInput("control character in a string", malformed("is not valid JSON (invalid JSON at byte 12: control character in a string)")) {
        try parse("{\"format\":\"a\u{01}\"}")
    },
    BadInput("unknown escape", malformed("is not valid JSON (invalid JSON at byte 12: invalid escape)")) {
        try parse(#"{"format":"\q"}"#)
    },
    BadInput("text after the document", malformed("is not valid JSON (invalid JSON at byte 3: unexpected text after the document)")) {
        try parse("{} {}")
    },
    BadInput("file cut in the middle of an array", malformed("is not valid JSON (invalid JSON at byte 40: unexpected end of input in an array)")) {
        try parse(#"{"format":"loss-reference/1","cases":[{}"#)
    },
    BadInput("bare word", malformed("is not valid JSON (invalid JSON at byte 3: expected true)")) { try parse("tru") },
    BadInput("invalid UTF-8 in a key is not a format field", malformed(#"has no "format" field"#)) {
        _ = try ReferenceFile(bytes: Array("{\"".utf8) + [0xFF, 0xFE] + Array("\":1}".utf8), path: "bad.json")
    },
]

@Suite struct ReferenceBadInputTests {
    @Test(arguments: referenceBadInputs)
    func throwsTheNamedError(_ bad: BadInput) {
        #expect(bad.mismatch() == nil, "\(bad.name)")
    }

    /// The reason carries Foundation's wording, which varies by platform: check the kind, path and prefix.
    @Test func unreadablePathIsAMalformedFileNamingThePath() {
        do {
            _ = try ReferenceFile(contentsOf: "/nonexistent/dir/cases.json")
            Issue.record("read a file that does not exist")
        } catch let LossError.malformedFile(path, reason) {
            #expect(path == "/nonexistent/dir/cases.json")
            #expect(reason.hasPrefix("cannot be read ("), "\(reason)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// A device (/dev/zero never ends) or a directory is refused before it is read.
    @Test func specialFilesAreRefusedUnread() {
        #expect(throws: LossError.malformedFile(path: "/dev/zero", reason: "is a device, not a file of reference cases")) {
            try ReferenceFile(contentsOf: "/dev/zero")
        }
        #expect(throws: LossError.malformedFile(path: "/", reason: "is a directory, not a file of reference cases")) {
            try ReferenceFile(contentsOf: "/")
        }
    }

    @Test func theTableIsLargeAndDistinct() {
        #expect(referenceBadInputs.count >= 20)
        #expect(Set(referenceBadInputs.map(\.name)).count == referenceBadInputs.count)
    }

    private func single(_ inputs: String, function: String = "mse_loss", options: String = "{}") throws -> ReferenceCase {
        let text = header + #"{"id":"c","function":""# + function + #"","options":"# + options + "," + inputs + ","
            + output + "," + upstream + "}" + footer
        return try ReferenceFile(bytes: Array(text.utf8), path: "case.json").cases[0]
    }

    /// Cases the reader accepts but the loss rejects: a failure with the loss's
    /// error as the message, in both precisions, never a crash.
    @Test(arguments: [
        (#""inputs":{"input":{"shape":[2,3],"data":[0,0,0,0,0,0]},"target":{"shape":[2],"data":[0,1]}}"#,
         "nll_loss", "input target is missing: expected an integer (index) tensor"),
        (#""inputs":{"input":{"shape":[2],"data":["NaN",0.5]},"target":{"shape":[2],"data":[0,1]}}"#,
         "binary_cross_entropy", "input[0] is nan, which is invalid: expected a probability in [0, 1]"),
        (#""inputs":{"input":{"shape":[2,3],"data":[0,0,0,0,0,0]},"target":{"shape":[2],"dtype":"int64","data":[0,9]}}"#,
         "cross_entropy", "target[1] is 9, outside the valid range [0, 3)"),
        (#""inputs":{"input":{"shape":[2,3],"data":[0,0,0,0,0,0]},"target":{"shape":[2],"dtype":"int64","data":[0,1]},"weight":{"shape":[2],"dtype":"int64","data":[1,1]}}"#,
         "cross_entropy", "Wrong shape for weight: expected [3] (one weight per class), got [2]"),
        (#""inputs":{"input":{"shape":[2],"data":[0,1]},"target":{"shape":[3],"data":[0,1,2]}}"#,
         "mse_loss", "Wrong shape for target: expected [2] (the shape of input), got [3]"),
    ])
    func badCasesFailWithTheLossError(inputs: String, function: String, message: String) throws {
        let c = try single(inputs, function: function)
        for precision in Precision.floatAndDouble {
            let r = Verifier.run(c, precision: precision)
            #expect(r.status == .fail)
            #expect(r.message?.contains(message) == true, "\(r.message ?? "nil")")
        }
    }
}
