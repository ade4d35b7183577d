import Foundation

/// Builds the two AlloyDB Admin API calls of a refresh and parses their answers.
///
/// `GET {base}/v1alpha/{instance}/connectionInfo` and
/// `POST {base}/v1alpha/{cluster}:generateClientCertificate` run concurrently on the engine;
/// the refresh succeeds only if both do. Immutable and Sendable; `fetch` runs on the thread
/// driving the engine.
struct AdminAPIClient: Sendable {
    /// The endpoint without a trailing `/`, e.g. `https://alloydb.googleapis.com`.
    let baseURL: String
    /// The full User-Agent header value.
    let userAgent: String
    /// `X-Goog-User-Project`, when known.
    let quotaProject: String?

    func connectionInfoRequest(for instance: InstanceURI, token: String) -> HTTPRequest {
        HTTPRequest(
            method: .get, url: "\(baseURL)/v1alpha/\(instance.name)/connectionInfo",
            headers: headers(token: token))
    }

    func certificateRequest(for instance: InstanceURI, token: String, publicKeyPEM: String) -> HTTPRequest {
        let body = GenerateClientCertificateRequest(parent: instance.clusterName, publicKey: publicKeyPEM)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Cannot fail: the body holds only strings and a bool.
        let bytes = (try? encoder.encode(body)).map(Array.init) ?? []
        return HTTPRequest(
            method: .post, url: "\(baseURL)/v1alpha/\(instance.clusterName):generateClientCertificate",
            headers: headers(token: token), body: bytes)
    }

    private func headers(token: String) -> [(name: String, value: String)] {
        var list: [(name: String, value: String)] = [
            ("Authorization", "Bearer \(token)"), ("User-Agent", userAgent),
            ("Content-Type", "application/json"),
        ]
        if let quotaProject { list.append(("X-Goog-User-Project", quotaProject)) }
        return list
    }

    /// Starts both calls; `completion` runs once on the engine thread after both finished.
    func fetch(
        instance: InstanceURI,
        token: String,
        publicKeyPEM: String,
        engine: HTTPEngine,
        completion: @escaping (Result<AdminAPIResult, ConnectorError>) -> Void
    ) {
        var info: Result<ConnectionInfoResponse, ConnectorError>?
        var certificate: Result<ClientCertificateResponse, ConnectorError>?
        let join = {
            guard let info, let certificate else { return }
            switch (info, certificate) {
            case (.success(let info), .success(let certificate)):
                completion(.success(AdminAPIResult(connectionInfo: info, certificate: certificate)))
            case (.failure(let error), _), (_, .failure(let error)):
                completion(.failure(error))
            }
        }
        engine.start(connectionInfoRequest(for: instance, token: token)) { result in
            info = result.flatMap {
                Self.parse(
                    $0, as: ConnectionInfoResponse.self, instance: instance, call: "failed to get instance metadata")
            }
            join()
        }
        engine.start(certificateRequest(for: instance, token: token, publicKeyPEM: publicKeyPEM)) { result in
            certificate = result.flatMap {
                Self.parse(
                    $0, as: ClientCertificateResponse.self, instance: instance, call: "create ephemeral cert failed")
            }
            join()
        }
    }

    /// Decodes a 2xx body as `T`, or turns a non-2xx answer into an error naming the instance,
    /// the HTTP status, Google's status string and message.
    static func parse<T: Decodable>(
        _ response: HTTPResponse,
        as type: T.Type,
        instance: InstanceURI,
        call: String
    ) -> Result<T, ConnectorError> {
        guard response.isSuccess else {
            return .failure(apiError(response, instance: instance, call: call))
        }
        do {
            return .success(try JSONDecoder().decode(T.self, from: Data(response.body)))
        } catch {
            return .failure(ConnectorError(
                .refresh, "\(call): malformed response (HTTP \(response.status)): \(response.bodyExcerpt(limit: 200))",
                instance: instance.shortName, httpStatus: response.status))
        }
    }

    /// What the user can do about a terminal status.
    private static func hint(_ status: Int) -> String {
        switch status {
        case 403:
            return " (permission denied: the principal needs roles/alloydb.client and "
                + "roles/serviceusage.serviceUsageConsumer)"
        case 404:
            return " (not found: check the project, region, cluster and instance names)"
        default:
            return ""
        }
    }

    private static func apiError(_ response: HTTPResponse, instance: InstanceURI, call: String) -> ConnectorError {
        let envelope = try? JSONDecoder().decode(GoogleErrorEnvelope.self, from: Data(response.body))
        let status = envelope?.error.status
        let detail: String
        if let envelope {
            detail = [status, envelope.error.message].compactMap { $0 }.joined(separator: ": ")
        } else {
            detail = response.bodyExcerpt(limit: 200)
        }
        return ConnectorError(
            .refresh, "\(call): HTTP \(response.status)\(detail.isEmpty ? "" : " \(detail)")\(hint(response.status))",
            instance: instance.shortName, httpStatus: response.status, apiStatus: status)
    }
}
