import Foundation

/// A strict checker for the Prometheus text exposition format (0.0.4), enough to catch what
/// a scraper would reject: bad names, labels, values, families without TYPE, duplicate
/// families or samples, and histograms whose buckets are not cumulative.
enum PrometheusFormat {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// Validates `text` and returns its samples by `name{labels}` as written.
    static func validate(_ text: String) throws -> [String: Double] {
        guard text.hasSuffix("\n") else { throw Problem(description: "the text must end with a newline") }
        var types: [String: String] = [:]
        var samples: [String: Double] = [:]
        var buckets: [String: [(Double, Double)]] = [:]
        var counts: [String: Double] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let fail = { (reason: String) in Problem(description: "line \(number + 1) \"\(line)\": \(reason)") }
            if line.hasPrefix("# HELP ") {
                guard line.split(separator: " ").count >= 4 || line.split(separator: " ").count == 3 else {
                    throw fail("malformed HELP")
                }
                continue
            }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, isName(parts[2]),
                      ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                    throw fail("malformed TYPE")
                }
                guard types[String(parts[2])] == nil else { throw fail("family declared twice") }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            guard !line.hasPrefix("#"), !line.isEmpty else { throw fail("unexpected line") }
            let (name, labels, value) = try sample(line, fail)
            var family = name
            for suffix in ["_bucket", "_sum", "_count"] where types[name] == nil && name.hasSuffix(suffix) {
                family = String(name.dropLast(suffix.count))
            }
            guard let type = types[family] else { throw fail("sample before its TYPE") }
            let key = labels.isEmpty ? name : "\(name){\(labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ","))}"
            guard samples[key] == nil else { throw fail("duplicate sample") }
            samples[key] = value
            if type == "histogram" {
                if name.hasSuffix("_bucket") {
                    guard let le = labels.first(where: { $0.0 == "le" })?.1 else { throw fail("bucket without le") }
                    let bound = le == "+Inf" ? Double.infinity : Double(le)
                    guard let bound else { throw fail("bad le") }
                    buckets[family, default: []].append((bound, value))
                } else if name.hasSuffix("_count") {
                    counts[family] = value
                }
            } else if type == "counter" || type == "gauge" {
                guard name == family else { throw fail("suffixed sample in a \(type) family") }
            }
            if type == "counter" && value < 0 { throw fail("negative counter") }
        }
        for (family, list) in buckets {
            guard list.last?.0 == .infinity else { throw Problem(description: "\(family): no +Inf bucket") }
            for (previous, next) in zip(list, list.dropFirst()) where next.0 <= previous.0 || next.1 < previous.1 {
                throw Problem(description: "\(family): buckets are not increasing and cumulative")
            }
            guard counts[family] == list.last?.1 else {
                throw Problem(description: "\(family): _count differs from the +Inf bucket")
            }
        }
        return samples
    }

    private static func isName(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first == "_" || first == ":" else {
            return false
        }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    private static func sample(
        _ line: Substring,
        _ fail: (String) -> Problem
    ) throws -> (String, [(String, String)], Double) {
        var index = line.startIndex
        while index < line.endIndex, line[index] != "{", line[index] != " " { index = line.index(after: index) }
        let name = line[line.startIndex..<index]
        guard isName(name) else { throw fail("bad metric name") }
        var labels: [(String, String)] = []
        if index < line.endIndex, line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                let keyStart = index
                while index < line.endIndex, line[index] != "=" { index = line.index(after: index) }
                let key = line[keyStart..<index]
                guard isName(key), !key.contains(":") else { throw fail("bad label name") }
                index = line.index(after: index)
                guard index < line.endIndex, line[index] == "\"" else { throw fail("label value not quoted") }
                index = line.index(after: index)
                var value = ""
                while index < line.endIndex, line[index] != "\"" {
                    if line[index] == "\\" {
                        index = line.index(after: index)
                        guard index < line.endIndex, ["\\", "\"", "n"].contains(line[index]) else {
                            throw fail("bad escape in label value")
                        }
                        value += "\\" + String(line[index])
                    } else {
                        guard line[index] != "\n" else { throw fail("raw newline in label value") }
                        value.append(line[index])
                    }
                    index = line.index(after: index)
                }
                guard index < line.endIndex else { throw fail("unterminated label value") }
                index = line.index(after: index)
                labels.append((String(key), value))
                if index < line.endIndex, line[index] == "," { index = line.index(after: index) }
            }
            guard index < line.endIndex else { throw fail("unterminated labels") }
            index = line.index(after: index)
        }
        guard index < line.endIndex, line[index] == " " else { throw fail("missing value") }
        let valueText = line[line.index(after: index)...]
        let value: Double?
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default: value = valueText.contains(" ") ? nil : Double(valueText)
        }
        guard let value else { throw fail("bad value") }
        return (String(name), labels, value)
    }
}
