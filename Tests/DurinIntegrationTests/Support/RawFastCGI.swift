import Foundation
import Glibc

/// A FastCGI peer that speaks to durin-fcgi's socket directly, as any local process
/// allowed to connect could: requests with params of its choosing, or connections
/// that send half a request, or nothing, and stay open.
struct RawFastCGI {
    let socketPath: String

    /// One FastCGI record (version 1, request id 1 unless told).
    static func record(_ type: UInt8, _ content: [UInt8], id: UInt16 = 1, version: UInt8 = 1) -> [UInt8] {
        precondition(content.count <= 65535)
        return [version, type, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(content.count >> 8), UInt8(content.count & 0xFF), 0, 0]
            + content
    }

    /// Name-value pairs as a PARAMS record's content (one- or four-byte lengths).
    static func encode(_ params: [(String, String)]) -> [UInt8] {
        func length(_ n: Int) -> [UInt8] {
            n < 128 ? [UInt8(n)] : [UInt8((n >> 24) | 0x80), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
        }
        var out: [UInt8] = []
        for (name, value) in params {
            out += length(name.utf8.count) + length(value.utf8.count) + Array(name.utf8) + Array(value.utf8)
        }
        return out
    }

    /// A whole request: begin (responder role), params, the body, the ends of both
    /// streams. `keep`: the FCGI_KEEP_CONN flag, as nginx sets it with fastcgi_keep_conn on.
    static func request(_ params: [(String, String)], body: [UInt8] = [], keep: Bool = false) -> [UInt8] {
        /// A stream as records of at most 65,535 bytes each, then its empty end record.
        func stream(_ type: UInt8, _ bytes: [UInt8]) -> [UInt8] {
            stride(from: 0, to: bytes.count, by: 65535).flatMap { record(type, Array(bytes[$0..<min($0 + 65535, bytes.count)])) }
                + record(type, [])
        }
        return record(1, [0, 1, keep ? 1 : 0, 0, 0, 0, 0, 0]) + stream(4, encode(params)) + stream(5, body)
    }

    /// A connected socket (blocking), or a failure.
    func connect() throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTP.Failure(description: "socket") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in socketPath.utf8.enumerated() where i < buf.count - 1 { buf[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 || RawHTTP.finishInterruptedConnect(fd) else {
            close(fd)
            throw RawHTTP.Failure(description: "connect \(socketPath): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            sent += n
        }
    }

    /// What came back on `fd` until the peer closed or `timeout` seconds passed:
    /// the STDOUT stream's bytes, and whether the connection was closed.
    static func receive(_ fd: Int32, timeout: Double) -> (stdout: [UInt8], closed: Bool) {
        var raw: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var closed = false
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let wait = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&p, 1, wait) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                closed = true
                break
            }
            raw += buffer[0..<n]
        }
        // Records: keep STDOUT (6) content.
        var out: [UInt8] = []
        var i = 0
        while i + 8 <= raw.count {
            let length = Int(raw[i + 4]) << 8 | Int(raw[i + 5])
            let padding = Int(raw[i + 6])
            let end = min(i + 8 + length, raw.count)
            if raw[i + 1] == 6 { out += raw[(i + 8)..<end] }
            i += 8 + length + padding
        }
        return (out, closed)
    }

    /// One answer on a connection that may stay open: the STDOUT stream's bytes up to
    /// the END_REQUEST record (nil if none came within `timeout` seconds).
    static func receiveAnswer(_ fd: Int32, timeout: Double) -> String? {
        var raw: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var out: [UInt8] = []
            var i = 0
            while i + 8 <= raw.count {
                let length = Int(raw[i + 4]) << 8 | Int(raw[i + 5])
                let end = i + 8 + length + Int(raw[i + 6])
                guard end <= raw.count else { break }
                if raw[i + 1] == 6 { out += raw[(i + 8)..<(i + 8 + length)] }
                if raw[i + 1] == 3 { return String(decoding: out, as: UTF8.self) }
                i = end
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            raw += buffer[0..<n]
        }
        return nil
    }

    /// Whether the peer has closed `fd` (end of stream or a reset), waiting up to
    /// `timeout` seconds for it.
    static func isClosed(_ fd: Int32, within timeout: Double) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    /// Sends a whole request and reads the CGI answer: status and body.
    func call(_ params: [(String, String)], body: [UInt8] = [], timeout: Double = 10) throws -> (status: Int, body: String) {
        let fd = try connect()
        defer { close(fd) }
        Self.send(fd, Self.request(params, body: body))
        let (stdout, _) = Self.receive(fd, timeout: timeout)
        let text = String(decoding: stdout, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n"),
            let statusLine = text[..<split.lowerBound].split(separator: "\r\n").first(where: { $0.hasPrefix("Status: ") }),
            let status = Int(statusLine.dropFirst("Status: ".count).prefix(3))
        else { throw RawHTTP.Failure(description: "no CGI answer: \(text)") }
        return (status, String(text[split.upperBound...]))
    }
}
