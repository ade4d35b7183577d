import FuzzSupport
@testable import Proxy

/// The shared body of the three configuration file fuzzers (TOML, YAML, JSON): parse the
/// text, then apply the values the way `--config-file` does and validate the result.
///
/// Properties: parse failures and application failures are `ConfigError`s whose text is one
/// printable line; a list is only accepted for `instance-uri`.
public enum ConfigFileHarness {
    /// Runs one input; `parse` is the syntax's parser.
    public static func run(
        _ bytes: [UInt8],
        path: String,
        parse: (String) throws(ConfigFileError) -> [String: ConfigValue]
    ) {
        // The loader refuses non-UTF-8 files before any parser runs.
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        let values: [String: ConfigValue]
        do {
            values = try parse(text)
        } catch {
            FuzzCheck.requirePrintable(error.reason, "parse error text")
            return
        }
        var options = ProxyOptions()
        do {
            let uris = try CommandLineParser.applyConfigFile(values, path: path, to: &options)
            for (key, value) in values where Flag.named(key) != nil {
                guard case .list = value, !["help", "version", "config-file"].contains(key) else {
                    continue
                }
                FuzzCheck.require(false, "a list was accepted for \(key)")
            }
            options.instances = try uris.map(InstanceArgument.init(parsing:))
            try options.validate()
            _ = try ListenerPlan.endpoints(for: options)
        } catch let error as ConfigError {
            FuzzCheck.requirePrintable(error.description, "error text")
        } catch {
            FuzzCheck.require(false, "untyped error \(error)")
        }
    }
}
