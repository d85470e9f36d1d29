import Foundation
import Glibc

/// A minimal HTTP/1.1 client over a loopback socket, so tests control every byte
/// they send (non-UTF-8 headers, malformed bodies) and see every byte returned.
struct HTTPResult {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var detail: String? { object["detail"] as? String }
}

struct RawHTTP {
    let port: UInt16
    /// The loopback address to send from (127.0.0.0/8 is all loopback): nginx's
    /// $remote_addr, for tests of per-address limits. nil: the kernel's choice.
    var source: String? = nil
    /// The Host header every request sends.
    var host = "127.0.0.1"

    init(port: UInt16, source: String? = nil, host: String = "127.0.0.1") {
        self.port = port
        self.source = source
        self.host = host
    }

    func request(
        _ method: String, _ path: String, headers: [(String, [UInt8])] = [], body: [UInt8] = [],
        timeout: Int = 10
    ) throws -> HTTPResult {
        var raw = Array("\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n".utf8)
        for (name, value) in headers { raw += Array("\(name): ".utf8) + value + Array("\r\n".utf8) }
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) { raw += Array("Content-Length: \(body.count)\r\n".utf8) }
        raw += Array("\r\n".utf8) + body
        return try exchange(raw, timeout: timeout)
    }

    /// Convenience: text headers, optional Authorization token, JSON or form body.
    func call(
        _ method: String, _ path: String, token: String? = nil, json: String? = nil, form: String? = nil,
        contentType: String? = nil, body: [UInt8]? = nil, extra: [(String, String)] = [], timeout: Int = 10
    ) throws -> HTTPResult {
        var h: [(String, [UInt8])] = extra.map { ($0.0, Array($0.1.utf8)) }
        if let token { h.append(("Authorization", Array("Token \(token)".utf8))) }
        var payload = body ?? []
        if let json {
            payload = Array(json.utf8)
            h.append(("Content-Type", Array((contentType ?? "application/json").utf8)))
        } else if let form {
            payload = Array(form.utf8)
            h.append(("Content-Type", Array((contentType ?? "application/x-www-form-urlencoded").utf8)))
        } else if let contentType {
            h.append(("Content-Type", Array(contentType.utf8)))
        }
        return try request(method, path, headers: h, body: payload, timeout: timeout)
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    private func exchange(_ bytes: [UInt8], timeout: Int) throws -> HTTPResult {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw Failure(description: "bind \(source): \(String(cString: strerror(errno)))") }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 || Self.finishInterruptedConnect(fd) else {
            throw Failure(description: "connect: \(String(cString: strerror(errno)))")
        }
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }  // the server may answer (413) before reading everything
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            // A signal to this process interrupts a recv on a socket with SO_RCVTIMEO
            // even under SA_RESTART (signal(7)): that is no end of the answer.
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        return try parse(response)
    }

    /// A blocking connect a signal interrupted goes on in the background (signal(7):
    /// connect is never restarted): wait for it, and say whether it succeeded.
    static func finishInterruptedConnect(_ fd: Int32) -> Bool {
        guard errno == EINTR else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while poll(&p, 1, 10_000) < 0 && errno == EINTR {}
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return false }
        errno = error
        return error == 0
    }

    private func parse(_ data: [UInt8]) throws -> HTTPResult {
        guard let split = data.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw Failure(description: "no HTTP response (\(data.count) bytes)")
        }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line \(head[0])") }
        var headers: [(String, String)] = []
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(data[split.upperBound...])
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }) {
            body = dechunk(body)
        }
        return HTTPResult(status: status, headers: headers, body: body)
    }

    private func dechunk(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var rest = data[...]
        while let lineEnd = rest.firstRange(of: Array("\r\n".utf8)),
            let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self), radix: 16), size > 0
        {
            let start = lineEnd.upperBound
            out += rest[start..<min(start + size, rest.endIndex)]
            rest = rest[min(start + size + 2, rest.endIndex)...]
        }
        return out
    }
}
