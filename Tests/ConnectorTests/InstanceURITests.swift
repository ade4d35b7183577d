import XCTest

@testable import Connector

final class InstanceURITests: XCTestCase {
    func testValidURIs_yieldDerivedNames() throws {
        let cases: [(String, String, String)] = [
            ("projects/p/locations/us-central1/clusters/c/instances/i",
             "projects/p/locations/us-central1/clusters/c", "p.us-central1.c.i"),
            ("projects/google.com:proj/locations/r/clusters/c1/instances/i-1",
             "projects/google.com:proj/locations/r/clusters/c1", "google.com:proj.r.c1.i-1"),
        ]
        for (text, cluster, short) in cases {
            let uri = try InstanceURI(text)
            XCTAssertEqual(uri.name, text)
            XCTAssertEqual(uri.clusterName, cluster)
            XCTAssertEqual(uri.shortName, short)
        }
    }

    func testInvalidURIs_areConfigErrorsNamingTheInput() {
        let bad = [
            "", "projects/p/locations/r/clusters/c/instances", "projects/p/locations/r/clusters/c/instances/",
            "project/p/locations/r/clusters/c/instances/i", "projects/p/location/r/clusters/c/instances/i",
            "projects/p/locations/r/cluster/c/instances/i", "projects/p/locations/r/clusters/c/instance/i",
            "projects//locations/r/clusters/c/instances/i", "projects/a:b:c/locations/r/clusters/c/instances/i",
            "projects/:b/locations/r/clusters/c/instances/i", "projects/p/locations/r:x/clusters/c/instances/i",
            "projects/p/locations/r/clusters/c:x/instances/i", "projects/p/locations/r/clusters/c/instances/i:x",
            "x/projects/p/locations/r/clusters/c/instances/i", "projects/p/locations/r/clusters/c/instances/i/x",
            "projects/p/locations/r/clusters/c/instances/i?port=1:2",
        ]
        for text in bad {
            XCTAssertThrowsError(try InstanceURI(text), text) { error in
                let error = error as? ConnectorError
                XCTAssertEqual(error?.code, .config, text)
                XCTAssertEqual(
                    error?.message,
                    "invalid instance URI, expected projects/<PROJECT>/locations/<REGION>/clusters/"
                        + "<CLUSTER>/instances/<INSTANCE> (instance URI = \"\(text)\")")
            }
        }
    }

    func testErrorText_escapesControlCharacters() {
        XCTAssertThrowsError(try InstanceURI("bad\nline")) { error in
            XCTAssertTrue("\(error)".contains("bad\\u{a}line"), "\(error)")
        }
    }
}
