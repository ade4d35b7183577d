import Foundation
import TLS

/// How the connector authenticates to Google, as chosen on the command line.
public enum CredentialSource: Sendable, Equatable {
    /// `--token`: a fixed OAuth2 access token used for the API and the metadata exchange.
    case token(String)
    /// `--credentials-file`: a service_account or authorized_user JSON file.
    case credentialsFile(path: String)
    /// `--json-credentials`: the same JSON given inline.
    case credentialsJSON(String)
    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`, then the gcloud
    /// well-known file `$HOME/.config/gcloud/application_default_credentials.json`, then the
    /// GCE metadata server (`GCE_METADATA_HOST`, or 169.254.169.254 when detected).
    case applicationDefault
    /// `--gcloud-auth`: the gcloud CLI's user token via
    /// `gcloud config config-helper --format json --min-expiry 1h`, re-run when it expires.
    case gcloud
}

/// Turns a `CredentialSource` into a `TokenSource`, reading and validating files up front so that
/// a bad credential is a startup error. Runs once at connector construction (any thread).
enum CredentialResolver {
    static let defaultTokenURI = "https://oauth2.googleapis.com/token"

    /// The token source for `configuration`: its credentials, wrapped in impersonation when
    /// an impersonation chain is configured.
    static func resolve(_ configuration: ConnectorConfiguration) throws(ConnectorError) -> any TokenSource {
        let base = try resolve(configuration.credentials, configuration: configuration)
        guard let target = configuration.impersonationChain.first else { return base }
        // `a,b,c`: impersonate a, delegating through c then b (the reference's order).
        let delegates: [String] = Array(configuration.impersonationChain.dropFirst().reversed())
        return ImpersonatedTokenSource(
            source: base,
            url: "\(configuration.iamCredentialsEndpoint)/v1/projects/-/serviceAccounts/\(target):generateAccessToken",
            delegates: delegates, scopes: nil)
    }

    static func resolve(
        _ source: CredentialSource,
        configuration: ConnectorConfiguration
    ) throws(ConnectorError) -> any TokenSource {
        let environment = configuration.environment
        switch source {
        case .token(let token):
            guard !token.isEmpty else { throw ConnectorError(.config, "the OAuth2 token is empty") }
            return StaticTokenSource(token: token)
        case .credentialsFile(let path):
            return try parse(readFile(path), origin: "credentials file \(InstanceURI.quoted(path))")
        case .credentialsJSON(let json):
            return try parse(Array(json.utf8), origin: "JSON credentials")
        case .applicationDefault:
            return try applicationDefault(configuration)
        case .gcloud:
            return try GcloudTokenSource(environment: environment, timeout: configuration.gcloudTimeout)
        }
    }

    private static func applicationDefault(
        _ configuration: ConnectorConfiguration
    ) throws(ConnectorError) -> any TokenSource {
        let environment = configuration.environment
        if let path = environment["GOOGLE_APPLICATION_CREDENTIALS"], !path.isEmpty {
            // Like the reference implementation: an explicit but broken file is fatal, with no
            // fallback to other sources.
            return try parse(readFile(path), origin: "GOOGLE_APPLICATION_CREDENTIALS file \(InstanceURI.quoted(path))")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let wellKnown = home + "/.config/gcloud/application_default_credentials.json"
        if FileManager.default.fileExists(atPath: wellKnown) {
            return try parse(readFile(wellKnown), origin: "gcloud credentials file \(InstanceURI.quoted(wellKnown))")
        }
        if let host = MetadataServerTokenSource.detect(environment: environment) {
            return MetadataServerTokenSource(host: host, timeout: configuration.metadataServerTimeout)
        }
        throw ConnectorError(
            .config,
            "could not find default credentials: set GOOGLE_APPLICATION_CREDENTIALS, run "
                + "`gcloud auth application-default login`, or run on Google Cloud")
    }

    private static func readFile(_ path: String) throws(ConnectorError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConnectorError(.config, "could not read credentials file \(InstanceURI.quoted(path))")
        }
        guard data.count <= 1 << 20 else {
            throw ConnectorError(.config, "credentials file \(InstanceURI.quoted(path)) is larger than 1 MiB")
        }
        return Array(data)
    }

    private struct FileFields: Decodable {
        var type: String?
        var client_email: String?
        var private_key: String?
        var private_key_id: String?
        var token_uri: String?
        var client_id: String?
        var client_secret: String?
        var refresh_token: String?
        var quota_project_id: String?
        var service_account_impersonation_url: String?
        var delegates: [String]?
        var scopes: [String]?
    }

    /// Parses credential JSON; `origin` names it in errors. Never echoes secrets.
    static func parse(_ bytes: [UInt8], origin: String) throws(ConnectorError) -> any TokenSource {
        let fields: FileFields
        do {
            fields = try JSONDecoder().decode(FileFields.self, from: Data(bytes))
        } catch {
            throw ConnectorError(.config, "\(origin) is not valid credentials JSON")
        }
        switch fields.type {
        case "service_account":
            return try serviceAccount(fields, origin: origin)
        case "authorized_user":
            guard let clientID = fields.client_id, let secret = fields.client_secret,
                let refresh = fields.refresh_token, !refresh.isEmpty
            else {
                throw ConnectorError(.config, "\(origin) lacks client_id, client_secret or refresh_token")
            }
            return AuthorizedUserTokenSource(
                clientID: clientID, clientSecret: secret, refreshToken: refresh,
                tokenURI: nonEmpty(fields.token_uri) ?? defaultTokenURI, quotaProject: fields.quota_project_id)
        case "impersonated_service_account":
            return try impersonated(bytes, fields, origin: origin)
        case let other?:
            throw ConnectorError(.config, "\(origin) has unsupported credential type \(InstanceURI.quoted(other))")
        case nil:
            throw ConnectorError(.config, "\(origin) has no \"type\" field")
        }
    }

    private static func serviceAccount(_ fields: FileFields, origin: String) throws(ConnectorError) -> any TokenSource {
        guard let email = nonEmpty(fields.client_email), let pem = nonEmpty(fields.private_key) else {
            throw ConnectorError(.config, "\(origin) lacks client_email or private_key")
        }
        let key: PrivateKey
        do {
            key = try PrivateKey(pem: pem)
        } catch {
            throw ConnectorError(.config, "\(origin) has a private_key that cannot be loaded")
        }
        let tokenURI = nonEmpty(fields.token_uri) ?? defaultTokenURI
        guard tokenURI.hasPrefix("https://") || tokenURI.hasPrefix("http://") else {
            throw ConnectorError(.config, "\(origin) has a token_uri that is not an HTTP(S) URL")
        }
        return ServiceAccountTokenSource(
            clientEmail: email, privateKeyID: nonEmpty(fields.private_key_id), privateKey: key,
            tokenURI: tokenURI, quotaProject: fields.quota_project_id)
    }

    /// An `impersonated_service_account` file: `source_credentials` (any supported type,
    /// scoped cloud-platform) traded at `service_account_impersonation_url`.
    private static func impersonated(
        _ bytes: [UInt8], _ fields: FileFields, origin: String
    ) throws(ConnectorError) -> any TokenSource {
        guard let url = nonEmpty(fields.service_account_impersonation_url),
            url.hasPrefix("https://") || url.hasPrefix("http://")
        else {
            throw ConnectorError(.config, "\(origin) lacks an HTTP(S) service_account_impersonation_url")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
        guard let nested = object?["source_credentials"] as? [String: Any],
            let nestedBytes = try? JSONSerialization.data(withJSONObject: nested)
        else {
            throw ConnectorError(.config, "\(origin) lacks a source_credentials object")
        }
        let source = try parse(Array(nestedBytes), origin: "source_credentials of \(origin)")
        guard !(source is ImpersonatedTokenSource) else {
            throw ConnectorError(.config, "\(origin) nests impersonated credentials")
        }
        let scopes = fields.scopes.flatMap { $0.isEmpty ? nil : $0 }
        return ImpersonatedTokenSource(
            source: source, url: url, delegates: fields.delegates ?? [], scopes: scopes,
            quotaProject: fields.quota_project_id ?? source.quotaProject)
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }
}
