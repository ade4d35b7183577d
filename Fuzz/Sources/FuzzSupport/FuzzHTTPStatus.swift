/// HTTP status codes for harnesses that fuzz a response body under several statuses.
public enum FuzzHTTPStatus {
    private static let unusual = [
        201, 204, 299, 300, 302, 400, 401, 403, 404, 429, 500, 503, 0, 100, 999,
    ]

    /// Mostly 200 (so the fuzzer spends its time on bodies), otherwise one of the unusual ones.
    public static func from(_ control: UInt8) -> Int {
        control < 192 ? 200 : unusual[Int(control - 192) % unusual.count]
    }
}
