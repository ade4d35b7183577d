import Emulator
import Foundation
import TLS
import XCTest

extension EmulatorFixture {
    /// A client key and a TLS context with a certificate from the emulator's API.
    func clientContext(token: String, useMetadataExchange: Bool = true) throws -> TLSContext {
        let key = try PrivateKey.generateRSA()
        let (status, json) = try generateClientCertificate(
            publicKeyPEM: key.publicKey.pem(.spki), token: token,
            useMetadataExchange: useMetadataExchange)
        XCTAssertEqual(status, 200, json.serialized)
        let chain = try (json["pemCertificateChain"]?.arrayValue ?? []).map {
            try Certificate(pem: $0.stringValue ?? "")
        }
        let root = try Certificate(pem: json["caCert"]?.stringValue ?? "")
        return try TLSContext.client(certificateChain: chain, key: key, trustedRoots: [root])
    }

    /// A TLS client that completed the handshake and the metadata exchange (asserting OK).
    func connectedClient(
        ip: String, token: String, mdxToken: String? = nil,
        authType: MetadataExchange.AuthType = .dbNative, receiveBuffer: Int32? = nil
    ) throws -> TLSTestClient {
        let client = try TLSTestClient(
            host: ip, port: emulator.configuration.instancePort, context: try clientContext(token: token),
            receiveBuffer: receiveBuffer)
        try client.handshake()
        let (code, error) = try client.exchangeMetadata(token: mdxToken ?? token, authType: authType)
        XCTAssertEqual(code, 1, error)
        return client
    }

    /// The lines of events.jsonl parsed.
    func events() -> [JSONValue] {
        let text = (try? String(contentsOfFile: directory + "/events.jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONValue.parse(Array($0.utf8)) }
    }

    /// Waits (bounded: 5 s) for an event named `name` that satisfies `matching`; returns it.
    func waitForEvent(
        _ name: String, matching: (JSONValue) -> Bool = { _ in true },
        file: StaticString = #filePath, line: UInt = #line
    ) -> JSONValue? {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if let found = events().last(where: { $0["event"]?.stringValue == name && matching($0) }) {
                return found
            }
            usleep(20_000)
        }
        XCTFail("no matching \(name) event within 5 s", file: file, line: line)
        return nil
    }

    /// POST /emulator/faults with `body`; returns (status, reply).
    @discardableResult
    func setFaults(_ body: String) throws -> (Int, JSONValue) {
        let response = try httpRequest(
            api, method: "POST", path: "/emulator/faults",
            headers: ["Content-Type": "application/json"], body: Array(body.utf8))
        return (response.status, (try? JSONValue.parse(response.body)) ?? .null)
    }
}

extension TLSTestClient {
    /// Sends a metadata-exchange request and returns the decoded (code, error).
    func exchangeMetadata(token: String, authType: MetadataExchange.AuthType) throws -> (UInt64, String) {
        try write(MetadataExchange.encodeRequest(.init(
            userAgent: "emulator-tests/1", authType: authType, oauth2Token: token)))
        let head = try read(count: 4)
        guard head.count == 4 else { throw EmulatorError(.network, "no MDX response (\(head.count) bytes)") }
        let length = head.reduce(0) { $0 << 8 | Int($1) }
        let body = try read(count: length)
        return try MetadataExchange.decodeResponse(body[...])
    }
}
