import Foundation

/// A line chart with a title, a bottom axis, a left axis and optionally a right
/// axis (for a second quantity on another scale), tick labels, grid lines and a legend.
public struct LineChart {
    public enum Axis: Sendable { case left, right }

    public struct Series {
        public var name: String
        public var color: String
        /// Points to draw; non-finite values break the line into pieces.
        public var points: [(x: Double, y: Double)]
        public var axis: Axis
        public var dashed: Bool

        public init(name: String, color: String, points: [(x: Double, y: Double)], axis: Axis = .left, dashed: Bool = false) {
            self.name = name
            self.color = color
            self.points = points
            self.axis = axis
            self.dashed = dashed
        }
    }

    public var title: String
    public var xLabel: String
    public var leftLabel: String
    public var rightLabel: String?
    public var series: [Series]
    public var width: Double = 640
    public var height: Double = 400
    /// Use a logarithmic left axis (for losses that fall over orders of magnitude); needs positive values.
    public var logLeft = false

    /// The blue and orange of the tutorial's figures.
    public static let blue = "#1f77b4", orange = "#ff7f0e", green = "#2ca02c", red = "#d62728"

    public init(title: String, xLabel: String, leftLabel: String, rightLabel: String? = nil, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.leftLabel = leftLabel
        self.rightLabel = rightLabel
        self.series = series
    }

    /// The chart as an SVG document.
    public func svg() -> String { render().render() }

    /// Writes the chart to `path`.
    public func write(to path: String) throws { try render().write(to: path) }

    func render() -> SVGWriter {
        let hasRight = series.contains { $0.axis == .right }
        let left = 72.0, right = width - (hasRight ? 72 : 24), top = 48.0, bottom = height - 56 - legendHeight
        var svg = SVGWriter(width: width, height: height)
        svg.rect(x: 0, y: 0, width: width, height: height, fill: "white")
        svg.text(title, x: width / 2, y: 28, size: 16, anchor: "middle", weight: "bold")

        let xs = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        let xScale = Scale(values: xs, from: left, to: right, log: false, padding: false)
        let leftScale = Scale(values: values(.left), from: bottom, to: top, log: logLeft, padding: true)
        let rightScale = hasRight ? Scale(values: values(.right), from: bottom, to: top, log: false, padding: true) : nil

        // Grid and ticks.
        for t in xScale.ticks {
            let x = xScale.map(t)
            svg.line(x1: x, y1: top, x2: x, y2: bottom, stroke: "#e6e6e6")
            svg.line(x1: x, y1: bottom, x2: x, y2: bottom + 5, stroke: "#444444")
            svg.text(xScale.label(t), x: x, y: bottom + 19, size: 11, anchor: "middle")
        }
        for t in leftScale.ticks {
            let y = leftScale.map(t)
            svg.line(x1: left, y1: y, x2: right, y2: y, stroke: "#e6e6e6")
            svg.line(x1: left - 5, y1: y, x2: left, y2: y, stroke: "#444444")
            svg.text(leftScale.label(t), x: left - 8, y: y + 4, size: 11, anchor: "end")
        }
        if let rightScale {
            for t in rightScale.ticks {
                let y = rightScale.map(t)
                svg.line(x1: right, y1: y, x2: right + 5, y2: y, stroke: "#444444")
                svg.text(rightScale.label(t), x: right + 8, y: y + 4, size: 11, anchor: "start", fill: rightColor)
            }
        }
        // Zero lines, when zero is inside the range.
        if leftScale.contains(0), !logLeft {
            svg.line(x1: left, y1: leftScale.map(0), x2: right, y2: leftScale.map(0), stroke: "#999999")
        }
        if xScale.contains(0) { svg.line(x1: xScale.map(0), y1: top, x2: xScale.map(0), y2: bottom, stroke: "#999999") }
        // Frame.
        svg.rect(x: left, y: top, width: right - left, height: bottom - top, stroke: "#444444")

        // Axis labels.
        svg.text(xLabel, x: (left + right) / 2, y: bottom + 40, size: 12, anchor: "middle")
        svg.text(leftLabel, x: 20, y: (top + bottom) / 2, size: 12, anchor: "middle", fill: leftColor, rotate: -90)
        if let rightLabel, hasRight {
            svg.text(rightLabel, x: width - 16, y: (top + bottom) / 2, size: 12, anchor: "middle", fill: rightColor, rotate: 90)
        }

        // Data, split where a value is not finite or falls far outside the plotted range.
        for s in series {
            let scale = s.axis == .left ? leftScale : rightScale!
            var piece: [(x: Double, y: Double)] = []
            for p in s.points {
                if p.x.isFinite, p.y.isFinite, !(scale.log && p.y <= 0) {
                    piece.append((xScale.map(p.x), min(max(scale.mapValue(p.y), top - 2), bottom + 2)))
                } else {
                    svg.polyline(piece, stroke: s.color, dash: s.dashed ? "6 4" : nil)
                    piece = []
                }
            }
            svg.polyline(piece, stroke: s.color, dash: s.dashed ? "6 4" : nil)
        }

        // Legend below the plot.
        var x = left, y = height - legendHeight - 4 + 14
        for s in series {
            let w = 40 + Double(s.name.count) * 7
            if x + w > width - 16 { x = left; y += 18 }
            svg.line(x1: x, y1: y - 4, x2: x + 24, y2: y - 4, stroke: s.color, width: 3, dash: s.dashed ? "6 4" : nil)
            svg.text(s.name, x: x + 30, y: y, size: 12)
            x += w
        }
        return svg
    }

    private var legendHeight: Double { 18 * Double(max(1, (series.count + 2) / 3)) }
    private var leftColor: String {
        let l = series.filter { $0.axis == .left }
        return l.count == 1 ? l[0].color : "#222222"
    }
    private var rightColor: String {
        let r = series.filter { $0.axis == .right }
        return r.count == 1 ? r[0].color : "#222222"
    }

    private func values(_ axis: Axis) -> [Double] {
        series.filter { $0.axis == axis }.flatMap { $0.points.map(\.y) }.filter { $0.isFinite && (!logLeft || axis == .right || $0 > 0) }
    }
}

/// Maps data values to pixels along one axis and picks round tick values.
struct Scale {
    let lo: Double, hi: Double, from: Double, to: Double, log: Bool
    let ticks: [Double]

    init(values: [Double], from: Double, to: Double, log: Bool, padding: Bool) {
        self.from = from
        self.to = to
        self.log = log
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if log {
            lo = Foundation.log10(max(lo, 1e-300))
            hi = Foundation.log10(max(hi, 1e-300))
        }
        if hi - lo < 1e-12 * max(1, abs(hi)) {
            lo -= max(0.5, abs(lo) * 0.1)
            hi += max(0.5, abs(hi) * 0.1)
        } else if padding {
            let pad = (hi - lo) * 0.05
            lo -= pad
            hi += pad
        }
        if log {
            lo = lo.rounded(.down)
            hi = hi.rounded(.up)
            self.ticks = stride(from: lo, through: hi, by: max(1, ((hi - lo) / 6).rounded(.up))).map { $0 }
        } else {
            let ticks = Scale.niceTicks(lo, hi, count: 6)
            if padding, let first = ticks.first, let last = ticks.last {
                lo = min(lo, first)
                hi = max(hi, last)
            }
            self.ticks = ticks.filter { $0 >= lo - 1e-9 * (hi - lo) && $0 <= hi + 1e-9 * (hi - lo) }
        }
        self.lo = lo
        self.hi = hi
    }

    func map(_ v: Double) -> Double {
        // Ticks on a log axis are already in log10 units.
        from + (v - lo) / (hi - lo) * (to - from)
    }

    /// Maps a data value (not a tick) on a log axis.
    func mapValue(_ v: Double) -> Double { map(log ? Foundation.log10(v) : v) }

    func contains(_ v: Double) -> Bool { v >= lo && v <= hi }

    func label(_ t: Double) -> String { log ? formatTick(Foundation.pow(10, t)) : formatTick(t) }

    /// Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi].
    static func niceTicks(_ lo: Double, _ hi: Double, count: Int) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(max(1, count))
        let magnitude = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let first = Foundation.ceil(lo / step - 1e-9) * step
        var ticks: [Double] = []
        var t = first
        while t <= hi + step * 1e-9, ticks.count < 50 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ticks
    }
}

/// A tick label: plain for moderate values, scientific for tiny or huge ones.
func formatTick(_ v: Double) -> String {
    if v == 0 { return "0" }
    let a = abs(v)
    if a >= 1e5 || a < 1e-3 { return String(format: "%.0e", v) }
    var s = String(format: "%.4f", v)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}
