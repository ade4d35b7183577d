/// How an instance endpoint answers a decoded metadata-exchange request: the token must be one
/// this emulator issued and has not expired; AUTO_IAM additionally needs the `alloydb.login`
/// scope and fixes the database user the client may log in as; then the MDX fault switch
/// applies. Pure apart from reading the token store and the switches; any thread.
struct MetadataPolicy {
    let tokens: TokenStore
    let faults: FaultSwitches

    /// The verdict for `request`.
    func verdict(for request: MetadataExchange.Request) -> TunnelMachine.MetadataVerdict {
        let grant: TokenStore.Grant
        switch tokens.validate(request.oauth2Token) {
        case .failure(.expired):
            return .refuse("the OAuth2 token has expired")
        case .failure(.unknown):
            return .refuse("the OAuth2 token was not issued by this emulator")
        case .success(let found):
            grant = found
        }
        var expectedUser: String?
        switch request.authType {
        case .dbNative:
            break
        case .autoIAM:
            guard grant.scopes.contains(alloyDBLoginScope) else {
                return .refuse(
                    "AUTO_IAM needs a token with the scope \(alloyDBLoginScope); this one has "
                        + grant.scopes.sorted().joined(separator: " "))
            }
            expectedUser = Self.databaseUser(forPrincipal: grant.principal)
        case .unspecified, .other:
            return .refuse("auth_type \(request.authType) is not DB_NATIVE or AUTO_IAM")
        }
        switch faults.metadataExchange {
        case .none: return .accept(expectedUser: expectedUser)
        case .error(let message): return .refuse(message)
        case .hang: return .hang
        case .close: return .close
        case .garbage: return .garbage
        }
    }

    /// The PostgreSQL role an IAM principal logs in as: a service account's email without
    /// `.gserviceaccount.com`, a user's full email.
    static func databaseUser(forPrincipal principal: String) -> String {
        let suffix = ".gserviceaccount.com"
        return principal.hasSuffix(suffix) ? String(principal.dropLast(suffix.count)) : principal
    }

    /// The `mdx` field of the `tunnel` event for `verdict`.
    static func outcome(_ verdict: TunnelMachine.MetadataVerdict) -> String {
        switch verdict {
        case .accept: return "ok"
        case .refuse(let reason): return "error: \(reason)"
        case .hang: return "error: hang (fault)"
        case .close: return "error: close (fault)"
        case .garbage: return "error: garbage (fault)"
        }
    }
}
