import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SVGCharts
import Testing

/// The SVG writer and line chart produce well-formed XML with the expected elements.
@Suite struct SVGWriterTests {
    /// Parses `svg` with Foundation's XMLParser and counts elements by name; collects text nodes.
    final class Collector: NSObject, XMLParserDelegate {
        var counts: [String: Int] = [:]
        var texts: [String] = []
        var root: String?
        private var current = ""
        func parser(_ p: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if root == nil { root = name }
            counts[name, default: 0] += 1
            current = ""
        }
        func parser(_ p: XMLParser, foundCharacters string: String) { current += string }
        func parser(_ p: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text" { texts.append(current) }
            current = ""
        }
    }

    static func parse(_ svg: String) -> (ok: Bool, collector: Collector) {
        let parser = XMLParser(data: Data(svg.utf8))
        let c = Collector()
        parser.delegate = c
        return (parser.parse(), c)
    }

    @Test func writerEscapesTextAndAttributes() {
        var w = SVGWriter(width: 100, height: 50)
        w.rect(x: 0, y: 0, width: 100, height: 50, fill: "white")
        w.line(x1: 0, y1: 0, x2: 10, y2: 10, stroke: "#000")
        w.polyline([(0, 0), (5, 5), (10, 0)], stroke: "red")
        w.text("a < b & \"c\" > 'd'\u{1}", x: 1, y: 2)
        let svg = w.render()
        let (ok, c) = Self.parse(svg)
        #expect(ok)
        #expect(c.root == "svg")
        #expect(c.counts["rect"] == 1 && c.counts["line"] == 1 && c.counts["polyline"] == 1 && c.counts["text"] == 1)
        #expect(c.texts == ["a < b & \"c\" > 'd'"])
        #expect(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    }

    @Test func chartHasAxesTicksLegendAndTitle() {
        let xs = (0...50).map { Double($0) / 10 - 2.5 }
        var chart = LineChart(
            title: "MSE <target 0>", xLabel: "prediction", leftLabel: "loss", rightLabel: "gradient",
            series: [
                .init(name: "loss", color: LineChart.blue, points: xs.map { ($0, $0 * $0) }),
                .init(name: "gradient", color: LineChart.orange, points: xs.map { ($0, 2 * $0) }, axis: .right),
                .init(name: "with gaps", color: LineChart.green, points: xs.map { ($0, $0 == 0 ? .nan : 1 / $0) }),
            ])
        chart.width = 500
        let (ok, c) = Self.parse(chart.svg())
        #expect(ok)
        #expect(c.texts.contains("MSE <target 0>"))
        for label in ["prediction", "loss", "gradient", "with gaps"] { #expect(c.texts.contains(label), "\(label)") }
        #expect(c.texts.contains("0") && c.texts.contains("-2") && c.texts.contains("2"))  // x tick labels
        #expect((c.counts["polyline"] ?? 0) >= 4)  // the NaN splits the third series in two
        #expect((c.counts["line"] ?? 0) >= 10)  // grid, ticks, legend swatches
    }

    @Test func degenerateDataStillRenders() {
        let chart = LineChart(title: "flat", xLabel: "x", leftLabel: "y", series: [
            .init(name: "constant", color: LineChart.blue, points: [(1, 3), (1, 3)]),
            .init(name: "empty", color: LineChart.red, points: []),
        ])
        #expect(Self.parse(chart.svg()).ok)
    }
}
