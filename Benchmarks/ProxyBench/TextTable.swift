import Foundation

/// A plain-text table with right-aligned numeric columns, for terminal output.
struct TextTable {
    let headers: [String]
    private var rows: [[String]] = []

    init(headers: [String]) {
        self.headers = headers
    }

    /// Appends a row; missing cells render empty, extra cells are dropped.
    mutating func add(_ cells: [String]) {
        rows.append((0..<headers.count).map { $0 < cells.count ? cells[$0] : "" })
    }

    /// The table with a header rule; the first column is left-aligned, the rest right-aligned.
    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return index == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        var out = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        out += rows.map(line)
        return out.joined(separator: "\n")
    }
}

/// Number formatting for the tables.
enum Format {
    /// 12,345
    static func integer(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return value < 0 ? "-" + out : out
    }

    /// `value` with `places` decimals; large values get thousands separators.
    static func decimal(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "-" }
        if places == 0 { return integer(Int(value.rounded())) }
        let text = String(format: "%.\(places)f", value)
        guard abs(value) >= 1_000, let dot = text.firstIndex(of: ".") else { return text }
        return integer(Int(text[..<dot]) ?? 0) + text[dot...]
    }

    /// Three significant digits or so: 1,234 / 123 / 12.3 / 1.23 / 0.123.
    static func measure(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 100 { return decimal(value, 0) }
        if magnitude >= 10 { return decimal(value, 1) }
        if magnitude >= 1 { return decimal(value, 2) }
        return decimal(value, 3)
    }
}

/// Progress and result output: every line is flushed at once, so a pipe (`| tee`) shows
/// progress while a long scenario runs.
enum Console {
    static func line(_ text: String) {
        print(text)
        fflush(nil)
    }
}
