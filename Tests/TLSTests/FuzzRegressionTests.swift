import Foundation
import TLS
import XCTest

/// Inputs the PEM fuzzers found (kept under Fuzz/Regressions): each must now be refused with a
/// typed error at parse time instead of crashing or misbehaving later.
final class FuzzRegressionTests: XCTestCase {
    private func regression(_ path: String) throws -> String {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("Fuzz/Regressions/\(path)"),
                          encoding: .utf8)
    }

    func testCertificateWithUndecodableKeyIsRefused() throws {
        let pem = try regression("pem-certificate/unreadable-subject-key.pem")
        XCTAssertThrowsError(try Certificate(pem: pem)) { error in
            XCTAssertTrue("\(error)".contains("public key"), "\(error)")
        }
        XCTAssertThrowsError(try Certificate.chain(fromPEM: pem))
    }

    func testInconsistentRSAKeyIsRefused() throws {
        let pem = try regression("pem-private-key/inconsistent-rsa-crt.pem")
        XCTAssertThrowsError(try PrivateKey(pem: pem)) { error in
            XCTAssertTrue("\(error)".contains("consistent"), "\(error)")
        }
    }

    func testGoodKeysStillLoad() throws {
        let key = try PrivateKey.generateRSA()
        XCTAssertEqual(try PrivateKey(pem: key.pem()).publicKey, key.publicKey)
        let ec = try PrivateKey.generateECP256()
        XCTAssertEqual(try PrivateKey(pem: ec.pem()).publicKey, ec.publicKey)
    }
}
