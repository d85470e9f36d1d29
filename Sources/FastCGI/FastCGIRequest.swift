import CFastCGI
import Glibc

/// libfcgi initialisation, once per process, before any worker accepts.
public enum FastCGI {
    public static func initialize() { _ = FCGX_Init() }

    /// Makes every pending and future `accept` in libfcgi give up (on EINTR).
    public static func shutdownPending() { FCGX_ShutdownPending() }
}

/// One worker thread's FastCGI request slot, reused for every request it serves.
///
/// Not Sendable: created and used on a single thread. Everything handed out is
/// copied, because libfcgi frees params and buffers on the next accept.
public final class FastCGIRequest {
    // libfcgi's streams keep a pointer to the request, so it needs a stable address.
    private let raw: UnsafeMutablePointer<FCGX_Request>

    public init(listenFD: Int32) {
        raw = .allocate(capacity: 1)
        raw.initialize(to: FCGX_Request())
        // Fail accept() on EINTR, so a signal can wake a worker at shutdown.
        FCGX_InitRequest(raw, listenFD, FCGI_FAIL_ACCEPT_ON_INTR)
    }

    deinit {
        FCGX_Free(raw, 1)
        raw.deallocate()
    }

    /// Waits for the next request; false when the listener is shut down.
    public func accept() -> Bool { FCGX_Accept_r(raw) >= 0 }

    /// Completes the current request and closes its connection (no keep-conn).
    public func finish() { FCGX_Finish_r(raw) }

    /// A FastCGI parameter of the current request (`PATH_INFO`, `HTTP_AUTHORIZATION`).
    /// Bytes that are not UTF-8 are kept as they are, in `paramBytes`.
    public func param(_ name: String) -> String? {
        paramBytes(name).map { String(decoding: $0, as: UTF8.self) }
    }

    public func paramBytes(_ name: String) -> [UInt8]? {
        guard let value = FCGX_GetParam(name, raw.pointee.envp) else { return nil }
        return Array(UnsafeRawBufferPointer(start: value, count: strlen(value)))
    }

    public enum BodyResult {
        case body([UInt8])
        /// Longer than the limit; the rest of the stream was read and discarded.
        case tooLarge
        /// The peer sent fewer bytes than CONTENT_LENGTH announced.
        case truncated
    }

    /// Reads the request body: exactly `contentLength` bytes, refusing more than `limit`.
    public func readBody(contentLength: Int, limit: Int) -> BodyResult {
        guard contentLength > 0 else { return .body([]) }
        if contentLength > limit {
            drain()
            return .tooLarge
        }
        var body = [UInt8](repeating: 0, count: contentLength)
        var received = 0
        while received < contentLength {
            let n = body.withUnsafeMutableBytes { buf in
                FCGX_GetStr(buf.baseAddress!.advanced(by: received).assumingMemoryBound(to: CChar.self),
                            Int32(contentLength - received), raw.pointee.in)
            }
            if n <= 0 { return .truncated }
            received += Int(n)
        }
        return .body(body)
    }

    /// Reads the rest of stdin so libfcgi and nginx see a cleanly consumed request.
    private func drain() {
        var scratch = [CChar](repeating: 0, count: 65536)
        while scratch.withUnsafeMutableBufferPointer({ FCGX_GetStr($0.baseAddress!, 65536, raw.pointee.in) }) > 0 {}
    }

    /// Writes a complete CGI response (status line, headers, body) in one call.
    public func respond(status: Int, reason: String, headers: [(String, String)], body: [UInt8]) {
        var head = "Status: \(status) \(reason)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        out.append(contentsOf: body)
        out.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                _ = FCGX_PutStr(chars.baseAddress!, Int32(chars.count), raw.pointee.out)
            }
        }
    }
}
