import Foundation

/// Reads a `--config-file`: TOML, YAML or JSON, chosen by the file name's extension only (so a
/// `cfg.yaml` next to `cfg.toml` is never picked up by accident).
///
/// Keys are flag names (`auto-iam-authn = true`) plus `instance-uri` / `instance-uri-N`.
/// Any thread; reads the file once.
public enum ConfigFile {
    /// The largest file read; configuration files are a few hundred bytes.
    static let maximumSize = 1 << 20

    /// Loads and parses `path`.
    ///
    /// - Throws: `ConfigError` `failed to load configuration from <path>: <reason>`.
    public static func load(_ path: String) throws(ConfigError) -> [String: ConfigValue] {
        do throws(ConfigFileError) {
            let format = try Format(path: path)
            let text = try read(path)
            switch format {
            case .toml: return try TOMLSubset.parse(text)
            case .yaml: return try YAMLMapping.parse(text)
            case .json: return try parseJSON(text)
            }
        } catch {
            throw ConfigError(
                .invalidConfigFile,
                "failed to load configuration from \(ConfigError.quoted(path)): \(error.reason)"
            )
        }
    }

    /// The three accepted syntaxes.
    enum Format: Equatable {
        case toml
        case yaml
        case json

        init(path: String) throws(ConfigFileError) {
            let name = path.split(separator: "/").last.map(String.init) ?? path
            let ext = name.split(separator: ".").count > 1
                ? name.split(separator: ".").last.map { $0.lowercased() } : nil
            switch ext {
            case "toml": self = .toml
            case "yaml", "yml": self = .yaml
            case "json": self = .json
            default:
                throw ConfigFileError(
                    "unsupported file extension \(ext.map { ConfigError.quoted("." + $0) } ?? "(none)")"
                        + "; use .toml, .yaml, .yml or .json")
            }
        }
    }

    private static func read(_ path: String) throws(ConfigFileError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ConfigFileError("cannot open the file (missing or not readable)")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maximumSize + 1) ?? Data()
        } catch {
            throw ConfigFileError("cannot read the file: \(error.localizedDescription)")
        }
        guard data.count <= maximumSize else {
            throw ConfigFileError("the file is larger than \(maximumSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigFileError("the file is not UTF-8 text")
        }
        return text
    }

    /// A JSON object whose members are strings, integers, booleans or arrays of those.
    static func parseJSON(_ text: String) throws(ConfigFileError) -> [String: ConfigValue] {
        do {
            let members = try JSONDecoder().decode([String: JSONMember].self, from: Data(text.utf8))
            return members.mapValues(\.value)
        } catch let error as DecodingError {
            throw ConfigFileError("malformed JSON: \(Self.describe(error))")
        } catch {
            throw ConfigFileError("malformed JSON: \(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context),
             .valueNotFound(_, let context), .keyNotFound(_, let context):
            let path = context.codingPath.map { ConfigError.quoted($0.stringValue) }.joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// One member: JSONDecoder keeps `true` and `1` apart, so booleans stay booleans.
    private struct JSONMember: Decodable {
        let value: ConfigValue

        init(from decoder: any Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                var items: [ConfigValue] = []
                while !array.isAtEnd {
                    items.append(try array.decode(JSONScalar.self).value)
                }
                value = .list(items)
            } else {
                value = try JSONScalar(from: decoder).value
            }
        }
    }

    /// A string, integer or boolean.
    private struct JSONScalar: Decodable {
        let value: ConfigValue

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                value = .boolean(flag)
            } else if let number = try? container.decode(Int.self) {
                value = .integer(number)
            } else if let text = try? container.decode(String.self) {
                value = .string(text)
            } else {
                throw DecodingError.typeMismatch(
                    ConfigValue.self,
                    .init(codingPath: decoder.codingPath,
                          debugDescription: "expected a string, integer, boolean or list of those"))
            }
        }
    }
}

/// Why a configuration file could not be read; wrapped into `ConfigError` with the path.
struct ConfigFileError: Error, Equatable {
    let reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}
