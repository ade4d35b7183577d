/// Parses and prints durations in Go's `time.ParseDuration` syntax (`30s`, `1m30s`, `500ms`,
/// `1.5h`, `0`), the syntax every duration flag of the proxy uses.
///
/// Pure and thread-safe. The result is exact to the nanosecond, like Go's.
enum GoDuration {
    /// Nanoseconds per unit, longest unit names first so that `ms` is not read as `m` + `s`.
    private static let units: [(name: String, nanoseconds: UInt64)] = [
        ("ns", 1),
        ("us", 1_000),
        ("\u{00B5}s", 1_000),  // micro sign
        ("\u{03BC}s", 1_000),  // Greek small letter mu
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ]

    /// The largest magnitude Go accepts (about 292 years).
    private static let maximum = UInt64(Int64.max)

    /// Parses `text`; returns nil when it is not a valid Go duration or does not fit 64 bits.
    static func parse(_ text: String) -> Duration? {
        var scalars = Substring(text).unicodeScalars[...]
        var negative = false
        if let sign = scalars.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            scalars = scalars.dropFirst()
        }
        if String(scalars) == "0" { return .zero }
        guard !scalars.isEmpty else { return nil }

        var total: UInt64 = 0
        while !scalars.isEmpty {
            guard let (component, rest) = parseComponent(scalars) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(component)
            guard !overflow, sum <= maximum else { return nil }
            total = sum
            scalars = rest
        }
        let nanoseconds = Int64(total)
        return .nanoseconds(negative ? -nanoseconds : nanoseconds)
    }

    /// Reads one `<number>[.<fraction>]<unit>` group and returns its value in nanoseconds.
    private static func parseComponent(
        _ input: Substring.UnicodeScalarView.SubSequence
    ) -> (UInt64, Substring.UnicodeScalarView.SubSequence)? {
        var rest = input
        let whole = rest.prefix { isDigit($0) }
        rest = rest.dropFirst(whole.count)
        var fraction = Substring.UnicodeScalarView.SubSequence()
        if rest.first == "." {
            rest = rest.dropFirst()
            fraction = rest.prefix { isDigit($0) }
            rest = rest.dropFirst(fraction.count)
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return nil }

        let unitText = String(rest.prefix { !isDigit($0) && $0 != "." })
        guard let unit = units.first(where: { $0.name == unitText }) else { return nil }
        rest = rest.dropFirst(unitText.unicodeScalars.count)

        guard let wholeValue = decimal(whole) else { return nil }
        let (scaled, overflow) = wholeValue.multipliedReportingOverflow(by: unit.nanoseconds)
        guard !overflow else { return nil }
        let (sum, carried) = scaled.addingReportingOverflow(fractionNanoseconds(fraction, unit: unit.nanoseconds))
        guard !carried else { return nil }
        return (sum, rest)
    }

    /// Value of a fractional part in nanoseconds, truncated like Go's parser.
    private static func fractionNanoseconds(
        _ digits: Substring.UnicodeScalarView.SubSequence,
        unit: UInt64
    ) -> UInt64 {
        var numerator: UInt64 = 0
        var denominator: UInt64 = 1
        // Digits beyond 1e18 cannot change a result measured in nanoseconds of at most an hour.
        for digit in digits.prefix(18) {
            numerator = numerator * 10 + UInt64(digit.value - 48)
            denominator *= 10
        }
        let (high, low) = numerator.multipliedFullWidth(by: unit)
        return denominator.dividingFullWidth((high, low)).quotient
    }

    private static func decimal(_ digits: Substring.UnicodeScalarView.SubSequence) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit.value - 48))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= 48 && scalar.value <= 57
    }

    /// Renders a duration the way Go's `Duration.String` does for whole units (`1m30s`, `500ms`,
    /// `0s`), used in help texts and error messages.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        if total == 0 { return "0s" }
        let sign = total < 0 ? "-" : ""
        let magnitude = total.magnitude
        if magnitude < 1_000 { return "\(sign)\(magnitude)ns" }
        if magnitude < 1_000_000 { return "\(sign)\(trimmed(magnitude, 1_000))\u{00B5}s" }
        if magnitude < 1_000_000_000 { return "\(sign)\(trimmed(magnitude, 1_000_000))ms" }

        var rest = magnitude
        var text = sign
        let hours = rest / 3_600_000_000_000
        rest %= 3_600_000_000_000
        let minutes = rest / 60_000_000_000
        rest %= 60_000_000_000
        if hours > 0 { text += "\(hours)h" }
        if hours > 0 || minutes > 0 { text += "\(minutes)m" }
        return text + "\(trimmed(rest, 1_000_000_000))s"
    }

    /// `value / unit` as a decimal without trailing zeros (`1500, 1000` -> `1.5`).
    private static func trimmed(_ value: UInt64, _ unit: UInt64) -> String {
        let whole = value / unit
        var fraction = value % unit
        guard fraction > 0 else { return "\(whole)" }
        var width = String(unit).count - 1
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: width - digits.count) + digits
    }
}
