/// One value of a configuration file, before it is applied as a flag's text.
///
/// Files are flat: every key is a flag name (or `instance-uri[-N]`) and every value is a
/// scalar, or a list of scalars for `instance-uri`. Pure value.
public enum ConfigValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case list([ConfigValue])

    /// The value as the command line would spell it, or nil for a list.
    var flagText: String? {
        switch self {
        case .string(let text): return text
        case .integer(let number): return String(number)
        case .boolean(let flag): return flag ? "true" : "false"
        case .list: return nil
        }
    }
}
