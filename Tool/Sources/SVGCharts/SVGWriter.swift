import Foundation

/// A minimal writer of standalone SVG 1.1 documents: rectangles, lines,
/// polylines and text, with every attribute and text node XML-escaped.
public struct SVGWriter {
    public let width: Double
    public let height: Double
    private var body: [String] = []

    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// A rectangle.
    public mutating func rect(
        x: Double, y: Double, width: Double, height: Double, fill: String = "none", stroke: String? = nil
    ) {
        var attributes = [("x", n(x)), ("y", n(y)), ("width", n(width)), ("height", n(height)), ("fill", fill)]
        if let stroke { attributes.append(("stroke", stroke)) }
        element("rect", attributes)
    }

    /// A straight line.
    public mutating func line(
        x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, dash: String? = nil
    ) {
        var attributes = [("x1", n(x1)), ("y1", n(y1)), ("x2", n(x2)), ("y2", n(y2)), ("stroke", stroke),
                          ("stroke-width", n(width))]
        if let dash { attributes.append(("stroke-dasharray", dash)) }
        element("line", attributes)
    }

    /// A polyline through `points` (at least two; fewer draw nothing).
    public mutating func polyline(_ points: [(x: Double, y: Double)], stroke: String, width: Double = 2, dash: String? = nil) {
        guard points.count >= 2 else { return }
        var attributes = [("points", points.map { "\(n($0.x)),\(n($0.y))" }.joined(separator: " ")),
                          ("fill", "none"), ("stroke", stroke), ("stroke-width", n(width)),
                          ("stroke-linejoin", "round")]
        if let dash { attributes.append(("stroke-dasharray", dash)) }
        element("polyline", attributes)
    }

    /// A text label; `anchor` is `start`, `middle` or `end`; `rotate` turns it about (x, y) in degrees.
    public mutating func text(
        _ string: String, x: Double, y: Double, size: Double = 12, anchor: String = "start",
        fill: String = "#222222", weight: String? = nil, rotate: Double? = nil
    ) {
        var attributes = [("x", n(x)), ("y", n(y)), ("font-size", n(size)), ("text-anchor", anchor), ("fill", fill)]
        if let weight { attributes.append(("font-weight", weight)) }
        if let rotate { attributes.append(("transform", "rotate(\(n(rotate)) \(n(x)) \(n(y)))")) }
        body.append("<text \(render(attributes))>\(SVGWriter.escape(string))</text>")
    }

    /// The complete document.
    public func render() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(n(width))\" height=\"\(n(height))\""
        out += " viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        for line in body { out += "  " + line + "\n" }
        return out + "</svg>\n"
    }

    /// Writes the document to `path`.
    public func write(to path: String) throws {
        try Data(render().utf8).write(to: URL(fileURLWithPath: path))
    }

    private mutating func element(_ name: String, _ attributes: [(String, String)]) {
        body.append("<\(name) \(render(attributes))/>")
    }

    private func render(_ attributes: [(String, String)]) -> String {
        attributes.map { "\($0.0)=\"\(SVGWriter.escape($0.1))\"" }.joined(separator: " ")
    }

    /// A coordinate with at most two decimals (finite values only; others become 0).
    private func n(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
    }

    /// Escapes the five XML special characters and drops control characters XML 1.0 forbids.
    public static func escape(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" { continue }
                if scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
