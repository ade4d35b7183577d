/// Turns `argv` and the environment into `ProxyOptions`, following pflag's conventions:
/// `--flag=value`, `--flag value`, `-f value`, `-fvalue`, `-f=value`, grouped boolean shorts
/// (`-il`), booleans as `--x` or `--x=false`, flags and positionals in any order, and `--`
/// ending the flags.
///
/// Sources in order of precedence: the command line, then `ALLOYDB_PROXY_<FLAG>` environment
/// variables (name upper-cased, `-` -> `_`), then the defaults. Instance URIs come from the
/// positionals, else from `ALLOYDB_PROXY_INSTANCE_URI`, else `ALLOYDB_PROXY_INSTANCE_URI_0`,
/// `_1`, ... up to the first gap.
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

        try applyEnvironment(environment, to: &options)
        if positionals.isEmpty {
            positionals = instanceURIs(from: environment)
        }
        options.instances = try positionals.map(InstanceArgument.init(parsing:))
        try options.validate()
        return options
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
