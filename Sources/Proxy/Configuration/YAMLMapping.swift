import CYAML

/// Reads a flat YAML mapping (`key: value` per line, values scalars or lists of scalars) with
/// libyaml's event parser.
///
/// Plain scalars `true`/`false` (any case) become booleans and decimal integers become integers,
/// as YAML 1.2's core schema says; quoted scalars stay strings. Nested mappings, anchors and
/// aliases, several documents and null values are rejected. Pure; any thread (each call owns
/// its parser).
enum YAMLMapping {
    /// Parses a whole document; an empty document is an empty mapping.
    ///
    /// - Throws: `ConfigFileError` with libyaml's problem and line, or the structural mistake.
    static func parse(_ text: String) throws(ConfigFileError) -> [String: ConfigValue] {
        let bytes = Array(text.utf8)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw ConfigFileError("could not initialise the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }

        return try bytes.withUnsafeBufferPointer { (buffer) throws(ConfigFileError) in
            // libyaml keeps the pointer; `buffer` stays valid for the whole parse.
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var reader = EventReader(parser: &parser)
            return try reader.document()
        }
    }

    /// One scalar, sequence start/end or structural event, copied out of libyaml's event.
    private enum Event {
        case streamStart, streamEnd, documentStart, documentEnd
        case mappingStart, mappingEnd, sequenceStart, sequenceEnd
        case scalar(String, plain: Bool)
        case alias
    }

    /// Pulls events from a parser it does not own.
    private struct EventReader: ~Copyable {
        let parser: UnsafeMutablePointer<yaml_parser_t>

        init(parser: UnsafeMutablePointer<yaml_parser_t>) {
            self.parser = parser
        }

        mutating func next() throws(ConfigFileError) -> Event {
            var event = yaml_event_t()
            guard yaml_parser_parse(parser, &event) == 1 else {
                let problem = parser.pointee.problem.map { String(cString: $0) } ?? "syntax error"
                let line = parser.pointee.problem_mark.line + 1
                throw ConfigFileError("malformed YAML at line \(line): \(problem)")
            }
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_START_EVENT: return .streamStart
            case YAML_STREAM_END_EVENT: return .streamEnd
            case YAML_DOCUMENT_START_EVENT: return .documentStart
            case YAML_DOCUMENT_END_EVENT: return .documentEnd
            case YAML_MAPPING_START_EVENT: return .mappingStart
            case YAML_MAPPING_END_EVENT: return .mappingEnd
            case YAML_SEQUENCE_START_EVENT: return .sequenceStart
            case YAML_SEQUENCE_END_EVENT: return .sequenceEnd
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)),
                    as: UTF8.self)
                return .scalar(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE)
            default:
                return .alias
            }
        }

        mutating func document() throws(ConfigFileError) -> [String: ConfigValue] {
            guard case .streamStart = try next() else { throw ConfigFileError("malformed YAML stream") }
            switch try next() {
            case .streamEnd: return [:]
            case .documentStart: break
            default: throw ConfigFileError("malformed YAML stream")
            }
            var result: [String: ConfigValue] = [:]
            switch try next() {
            case .mappingStart:
                result = try mapping()
            case .scalar(let text, plain: true) where YAMLMapping.isNull(text):
                break
            default:
                throw ConfigFileError("the top level must be a mapping of flag names to values")
            }
            guard case .documentEnd = try next() else {
                throw ConfigFileError("unexpected content after the mapping")
            }
            guard case .streamEnd = try next() else {
                throw ConfigFileError("only one YAML document is allowed")
            }
            return result
        }

        mutating func mapping() throws(ConfigFileError) -> [String: ConfigValue] {
            var result: [String: ConfigValue] = [:]
            while true {
                let key: String
                switch try next() {
                case .mappingEnd: return result
                case .scalar(let text, _): key = text
                default: throw ConfigFileError("keys must be plain names")
                }
                let value = try self.value(key: key)
                guard result[key] == nil else {
                    throw ConfigFileError("duplicate key \(ConfigError.quoted(key))")
                }
                result[key] = value
            }
        }

        mutating func value(key: String) throws(ConfigFileError) -> ConfigValue {
            switch try next() {
            case .scalar(let text, let plain):
                return try YAMLMapping.scalar(text, plain: plain, key: key)
            case .sequenceStart:
                var items: [ConfigValue] = []
                while true {
                    switch try next() {
                    case .sequenceEnd: return .list(items)
                    case .scalar(let text, let plain):
                        items.append(try YAMLMapping.scalar(text, plain: plain, key: key))
                    default:
                        throw ConfigFileError("\(ConfigError.quoted(key)): list items must be scalars")
                    }
                }
            case .mappingStart:
                throw ConfigFileError("\(ConfigError.quoted(key)): nested mappings are not supported")
            default:
                throw ConfigFileError("\(ConfigError.quoted(key)): anchors and aliases are not supported")
            }
        }
    }

    static func isNull(_ text: String) -> Bool {
        text.isEmpty || text == "~" || text.lowercased() == "null"
    }

    /// Types a scalar with YAML 1.2's core schema; quoted scalars are always strings.
    static func scalar(_ text: String, plain: Bool, key: String) throws(ConfigFileError) -> ConfigValue {
        guard plain else { return .string(text) }
        if isNull(text) {
            throw ConfigFileError("\(ConfigError.quoted(key)): missing value")
        }
        switch text.lowercased() {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        default: break
        }
        if let number = Int(text), text.first != "+" {
            return .integer(number)
        }
        return .string(text)
    }
}
