/// Turns `argv` and the environment into `ProxyOptions`, following pflag's conventions:
/// `--flag=value`, `--flag value`, `-f value`, `-fvalue`, `-f=value`, grouped boolean shorts
/// (`-il`), booleans as `--x` or `--x=false`, flags and positionals in any order, and `--`
/// ending the flags.
///
/// Sources in order of precedence: the command line, then `ALLOYDB_PROXY_<FLAG>` environment
/// variables (name upper-cased, `-` -> `_`), then the `--config-file` (only when given on the
/// command line, as in the reference), then the defaults. Instance URIs come from the
/// positionals, else from `ALLOYDB_PROXY_INSTANCE_URI`, else `ALLOYDB_PROXY_INSTANCE_URI_0`,
/// `_1`, ... up to the first gap, else from the file's `instance-uri` (a string or a list),
/// else its `instance-uri-0`, `instance-uri-1`, ...
///
/// Pure; safe on any thread.
public enum CommandLineParser {
    /// Parses and validates.
    ///
    /// - Parameters:
    ///   - arguments: the arguments without the program name.
    ///   - environment: the process environment (injectable for tests).
    /// - Throws: `ConfigError` with the one line to print.
    public static func parse(
        _ arguments: [String],
        environment: [String: String] = [:]
    ) throws -> ProxyOptions {
        var options = ProxyOptions()
        var positionals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                positionals += arguments[index...]
                break
            }
            if argument.hasPrefix("--") {
                try parseLong(argument, arguments, &index, &options)
            } else if argument.hasPrefix("-") && argument.count > 1 {
                try parseShort(argument, arguments, &index, &options)
            } else {
                positionals.append(argument)
            }
        }

        let fileToLoad = options.explicitlySet.contains("config-file") ? options.configFile : nil
        try applyEnvironment(environment, to: &options)
        if positionals.isEmpty {
            positionals = instanceURIs(from: environment)
        }
        if let path = fileToLoad, !options.help, !options.version {
            let values = try ConfigFile.load(path)
            let fileURIs = try applyConfigFile(values, path: path, to: &options)
            if positionals.isEmpty {
                positionals = fileURIs
            }
        }
        options.instances = try positionals.map(InstanceArgument.init(parsing:))
        try options.validate()
        options.warnings += options.notices()
        return options
    }

    /// Applies file values to every flag that neither the command line nor the environment set;
    /// unknown keys become warnings.
    ///
    /// - Returns: the instance URIs the file lists (`instance-uri`, else `instance-uri-N`).
    /// - Throws: `ConfigError` `failed to load configuration from <path>: <problem>`.
    static func applyConfigFile(
        _ values: [String: ConfigValue],
        path: String,
        to options: inout ProxyOptions
    ) throws -> [String] {
        let fromHigherLayers = options.explicitlySet
        let failure = { (reason: String) in
            ConfigError(.invalidConfigFile,
                        "failed to load configuration from \(ConfigError.quoted(path)): \(reason)")
        }
        for key in values.keys.sorted() {
            guard let value = values[key] else { continue }
            if key == "instance-uri" || isNumberedInstanceKey(key) { continue }
            guard let flag = Flag.named(key), !["help", "version", "config-file"].contains(key) else {
                options.warnings.append(
                    "ignoring unknown key \(ConfigError.quoted(key)) in \(ConfigError.quoted(path))")
                continue
            }
            guard !fromHigherLayers.contains(key) else { continue }
            guard let text = value.flagText else {
                throw failure("\(ConfigError.quoted(key)): a list is only allowed for instance-uri")
            }
            do {
                try flag.apply(text, to: &options)
            } catch let error as ConfigError {
                throw failure(error.description)
            }
        }
        return try instanceURIs(from: values, failure: failure)
    }

    private static func isNumberedInstanceKey(_ key: String) -> Bool {
        guard key.hasPrefix("instance-uri-") else { return false }
        let digits = key.dropFirst("instance-uri-".count)
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func instanceURIs(
        from values: [String: ConfigValue],
        failure: (String) -> ConfigError
    ) throws -> [String] {
        func text(_ value: ConfigValue, _ key: String) throws -> String {
            guard case .string(let uri) = value else {
                throw failure("\(ConfigError.quoted(key)): an instance URI must be a string")
            }
            return uri
        }
        if let single = values["instance-uri"] {
            if case .list(let items) = single {
                return try items.map { try text($0, "instance-uri") }
            }
            return [try text(single, "instance-uri")]
        }
        var uris: [String] = []
        while let value = values["instance-uri-\(uris.count)"] {
            uris.append(try text(value, "instance-uri-\(uris.count)"))
        }
        return uris
    }

    /// `--name`, `--name=value` or `--name value`.
    private static func parseLong(
        _ argument: String,
        _ arguments: [String],
        _ index: inout Int,
        _ options: inout ProxyOptions
    ) throws {
        let body = argument.dropFirst(2)
        let parts = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        guard let flag = Flag.named(name) else {
            throw ConfigError.unknownFlag("--\(name)")
        }
        if parts.count == 2 {
            try flag.apply(String(parts[1]), to: &options)
        } else if flag.kind == .bool {
            try flag.apply("true", to: &options)
        } else {
            guard index < arguments.count else { throw ConfigError.missingValue("--\(name)") }
            try flag.apply(arguments[index], to: &options)
            index += 1
        }
    }

    /// `-x`, `-xvalue`, `-x=value`, `-x value` and grouped booleans `-il`.
    private static func parseShort(
        _ argument: String,
        _ arguments: [String],
        _ index: inout Int,
        _ options: inout ProxyOptions
    ) throws {
        var letters = Substring(argument.dropFirst())
        while let letter = letters.first {
            letters = letters.dropFirst()
            guard let flag = Flag.short(letter) else {
                throw ConfigError.unknownFlag("-\(letter)")
            }
            if letters.first == "=" {
                try flag.apply(String(letters.dropFirst()), to: &options)
                return
            }
            if flag.kind == .bool {
                try flag.apply("true", to: &options)
                continue
            }
            if !letters.isEmpty {
                try flag.apply(String(letters), to: &options)
                return
            }
            guard index < arguments.count else { throw ConfigError.missingValue("-\(letter)") }
            try flag.apply(arguments[index], to: &options)
            index += 1
            return
        }
    }

    /// The environment variable that sets `flag`.
    static func environmentName(of flag: String) -> String {
        "ALLOYDB_PROXY_" + String(flag.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    /// Applies `ALLOYDB_PROXY_<FLAG>` for every flag the command line did not set.
    private static func applyEnvironment(
        _ environment: [String: String],
        to options: inout ProxyOptions
    ) throws {
        let fromCommandLine = options.explicitlySet
        for flag in Flag.all where !fromCommandLine.contains(flag.name) {
            guard flag.name != "help", flag.name != "version" else { continue }
            guard let value = environment[environmentName(of: flag.name)] else { continue }
            try flag.apply(value, to: &options)
        }
    }

    /// Instance URIs from the environment when no positional was given.
    private static func instanceURIs(from environment: [String: String]) -> [String] {
        if let single = environment["ALLOYDB_PROXY_INSTANCE_URI"] {
            return [single]
        }
        var uris: [String] = []
        while let uri = environment["ALLOYDB_PROXY_INSTANCE_URI_\(uris.count)"] {
            uris.append(uri)
        }
        return uris
    }
}
