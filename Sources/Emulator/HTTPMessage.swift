import Foundation

/// One complete HTTP request as the server received it. Header names compare case-insensitively.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent: percent-encoded path plus optional `?query`.
    public var target: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(
        method: String,
        target: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = []
    ) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name` (case-insensitive), else nil.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// The target's path, percent-decoded; nil when the encoding is invalid.
    public var path: String? {
        let raw = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return FormCoding.percentDecode(String(raw), plusIsSpace: false)
    }
}

/// The response a handler returns.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response with the given status.
    public static func json(_ status: Int, _ value: JSONValue) -> HTTPResponse {
        HTTPResponse(
            status: status,
            headers: [("Content-Type", "application/json; charset=UTF-8")],
            body: value.bytes
        )
    }

    /// A failure in Google's API error envelope
    /// `{"error":{"code":N,"message":"...","status":"..."}}`.
    public static func googleError(_ status: Int, _ rpcStatus: String, _ message: String)
        -> HTTPResponse
    {
        json(
            status,
            .object([
                (
                    "error",
                    .object([
                        ("code", .number(Double(status))),
                        ("message", .string(message)),
                        ("status", .string(rpcStatus)),
                    ])
                )
            ])
        )
    }

    /// A failure in the OAuth 2 token endpoint's shape `{"error":..., "error_description":...}`.
    public static func oauthError(_ status: Int, _ error: String, _ description: String)
        -> HTTPResponse
    {
        json(status, .object([("error", .string(error)), ("error_description", .string(description))]))
    }
}

/// Percent-decoding and `application/x-www-form-urlencoded` parsing.
public enum FormCoding {
    /// Decodes `%XX` escapes (and `+` as space when asked); nil on a bad escape or bad UTF-8.
    public static func percentDecode(_ text: String, plusIsSpace: Bool) -> String? {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard bytes.count >= 2,
                    let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
                else { return nil }
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else if byte == UInt8(ascii: "+") && plusIsSpace {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Parses a form body into name/value pairs; throws `.invalidArgument` on bad escapes.
    public static func parseForm(_ body: [UInt8]) throws -> [String: String] {
        guard let text = String(validating: body, as: UTF8.self) else {
            throw EmulatorError(.invalidArgument, "the form body is not UTF-8")
        }
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(String(parts[0]), plusIsSpace: true),
                let value = percentDecode(parts.count > 1 ? String(parts[1]) : "", plusIsSpace: true)
            else { throw EmulatorError(.invalidArgument, "the form body has a bad %-escape") }
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    /// Percent-encodes `text` for a form field value.
    public static func formEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                out.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
