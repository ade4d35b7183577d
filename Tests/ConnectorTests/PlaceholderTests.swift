import XCTest

final class ConnectorTestsPlaceholder: XCTestCase {
    func testPlaceholder() {}
}
