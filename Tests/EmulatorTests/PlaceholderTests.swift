import XCTest

final class EmulatorTestsPlaceholder: XCTestCase {
    func testPlaceholder() {}
}
