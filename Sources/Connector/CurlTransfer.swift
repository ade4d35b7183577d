import CCurlShims
import Foundation

/// One libcurl easy handle with its header list, its collected body and its completion.
///
/// Owned by `HTTPEngine` on its driving thread; `close()` releases the C resources and must be
/// called exactly once (by `finish` or by the engine's deinit).
final class CurlTransfer {
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let body: UnsafeMutablePointer<CCurlShims_body>
    private var completion: HTTPEngine.Completion?
    private let url: String
    private var closed = false

    init(
        request: HTTPRequest,
        options: HTTPOptions,
        completion: @escaping HTTPEngine.Completion
    ) throws(ConnectorError) {
        guard let easy = curl_easy_init() else {
            throw ConnectorError(.refresh, "libcurl could not create a transfer")
        }
        self.easy = easy
        self.url = request.url
        self.completion = completion
        body = .allocate(capacity: 1)
        body.initialize(to: CCurlShims_body(
            data: nil, length: 0, capacity: 0, limit: options.maximumResponseBytes, overflowed: 0))
        do {
            try configure(request: request, options: options)
        } catch {
            close()
            throw error
        }
    }

    private func configure(request: HTTPRequest, options: HTTPOptions) throws(ConnectorError) {
        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        let total = min(options.totalTimeout, request.timeout ?? .infinity)
        try set(CURLOPT_CONNECTTIMEOUT_MS, Int(min(options.connectTimeout, total) * 1000))
        try set(CURLOPT_TIMEOUT_MS, Int(total * 1000))
        // CAINFO adds the given bundle; the built-in CAPATH (/etc/ssl/certs) stays in effect,
        // so the system store keeps working alongside it.
        if let caFile = options.caFile { try set(CURLOPT_CAINFO, caFile) }
        for header in request.headers {
            guard !(header.name + header.value).contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw ConnectorError(.config, "HTTP header \(header.name) contains a line break")
            }
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        try check(CCurlShims_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList))
        if request.method == .post {
            let bytes = request.body ?? []
            try set(CURLOPT_POST, 1)
            try check(CCurlShims_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)))
            // COPYPOSTFIELDS copies the bytes (using the size set just above), so the Swift
            // array need not outlive this call.
            let code = bytes.withUnsafeBytes { raw in
                let pointer = UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(body))
                return CCurlShims_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, pointer)
            }
            try check(code)
        }
        try check(CCurlShims_easy_collect_body(easy, body))
    }

    /// Reports the outcome of the transfer to its completion and releases the handle.
    func finish(code: CURLcode) {
        let result = outcome(code: code)
        let completion = self.completion
        close()
        completion?(result)
    }

    private func outcome(code: CURLcode) -> Result<HTTPResponse, ConnectorError> {
        if body.pointee.overflowed != 0 {
            return .failure(ConnectorError(.refresh, "response from \(url) exceeds \(body.pointee.limit) bytes"))
        }
        guard code == CURLE_OK else {
            let reason = String(cString: curl_easy_strerror(code))
            let kind = code == CURLE_OPERATION_TIMEDOUT ? "timed out" : "failed"
            return .failure(ConnectorError(.refresh, "request to \(url) \(kind): \(reason)"))
        }
        var status = 0
        _ = CCurlShims_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var bytes: [UInt8] = []
        if let data = body.pointee.data, body.pointee.length > 0 {
            bytes = Array(UnsafeRawBufferPointer(start: data, count: body.pointee.length))
        }
        return .success(HTTPResponse(status: status, body: bytes))
    }

    /// Frees the easy handle, the header list and the body; safe to call twice.
    func close() {
        guard !closed else { return }
        closed = true
        completion = nil
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        headerList = nil
        CCurlShims_body_free(body)
    }

    deinit {
        body.deallocate()
    }

    private func set(_ option: CURLoption, _ value: Int) throws(ConnectorError) {
        try check(CCurlShims_easy_setopt_long(easy, option, value))
    }

    private func set(_ option: CURLoption, _ value: String) throws(ConnectorError) {
        try check(CCurlShims_easy_setopt_string(easy, option, value))
    }

    private func check(_ code: CURLcode) throws(ConnectorError) {
        guard code == CURLE_OK else {
            let reason = String(cString: curl_easy_strerror(code))
            throw ConnectorError(.config, "libcurl rejected an option for \(url): \(reason)")
        }
    }
}
