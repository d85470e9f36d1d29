package import CFastCGI
import Glibc

/// The socket the responder accepts FastCGI connections on.
///
/// Chosen once at start, in this order: an explicit address (`DURIN_LISTEN`), the
/// socket systemd passes (`LISTEN_FDS`/`LISTEN_PID`, fd 3), or fd 0 when a spawner
/// such as spawn-fcgi left a listening socket there (libfcgi's convention).
package struct ListenSocket: Sendable {
    package let fd: Int32
    /// True when this process created the socket: it may then shut it down to wake
    /// blocked `accept` calls at exit. An inherited socket must stay open for the
    /// next instance, so it is never shut down.
    package let isOwned: Bool
    package let summary: String

    package enum Failure: Error, CustomStringConvertible {
        case invalidAddress(String)
        case system(String)
        case noSocket

        package var description: String {
            switch self {
            case .invalidAddress(let why): return "DURIN_LISTEN: \(why)"
            case .system(let why): return why
            case .noSocket:
                return "no socket to listen on: set DURIN_LISTEN, or start under systemd socket activation or spawn-fcgi"
            }
        }
    }

    /// Opens or adopts the listening socket.
    /// - Parameters:
    ///   - address: a unix socket path (starts with `/` or `.`), or `host:port`.
    ///   - socketMode: permissions for a unix socket path (nginx must be able to connect).
    package static func open(address: String?, socketMode: mode_t, environment: [String: String]) throws(Failure) -> ListenSocket {
        if let address, !address.isEmpty {
            // The path or host reaches C (bind, unlink, inet_pton) as a C string, which
            // ends at the first NUL: refused, not cut.
            guard !address.utf8.contains(0) else { throw .invalidAddress("the listen address holds a NUL byte") }
            if address.hasPrefix("/") || address.hasPrefix(".") {
                return try openUnix(path: address, mode: socketMode)
            }
            return try openTCP(address)
        }
        if let fds = environment["LISTEN_FDS"], let pid = environment["LISTEN_PID"],
            Int(fds) ?? 0 >= 1, Int32(pid) == getpid()
        {
            return ListenSocket(fd: 3, isOwned: false, summary: "systemd socket (fd 3)")
        }
        if isListeningSocket(0) {
            return ListenSocket(fd: 0, isOwned: false, summary: "inherited socket (fd 0)")
        }
        throw .noSocket
    }

    /// Wakes every thread blocked in `accept` on a socket this process owns.
    package func shutdownOwned() {
        if isOwned { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private static func isListeningSocket(_ fd: Int32) -> Bool {
        var accepting: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting != 0
    }

    private static func openUnix(path: String, mode: mode_t) throws(Failure) -> ListenSocket {
        var addr = sockaddr_un()
        guard durin_sockaddr_un(&addr, path) == 0 else { throw .invalidAddress("socket path too long: \(path)") }
        // Replace a stale socket left by a previous run, but never another kind of file.
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw .invalidAddress("\(path) exists and is not a socket") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system("socket(): \(errorText())") }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let e = errorText()
            close(fd)
            throw .system("bind(\(path)): \(e)")
        }
        chmod(path, mode)
        guard listen(fd, 1024) == 0 else {
            let e = errorText()
            close(fd)
            throw .system("listen(\(path)): \(e)")
        }
        return ListenSocket(fd: fd, isOwned: true, summary: "unix:\(path)")
    }

    private static func openTCP(_ address: String) throws(Failure) -> ListenSocket {
        guard let colon = address.lastIndex(of: ":"),
            let port = UInt16(address[address.index(after: colon)...]), port > 0
        else {
            throw .invalidAddress("expected a unix socket path or host:port, got \(address)")
        }
        let host = String(address[..<colon])
        // An empty host would bind every interface (libfcgi's ":9000"); make that explicit.
        guard !host.isEmpty else { throw .invalidAddress("name the host to bind, e.g. 127.0.0.1:\(port)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            throw .invalidAddress("host must be an IPv4 address: \(host)")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system("socket(): \(errorText())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let e = errorText()
            close(fd)
            throw .system("bind(\(address)): \(e)")
        }
        guard listen(fd, 1024) == 0 else {
            let e = errorText()
            close(fd)
            throw .system("listen(\(address)): \(e)")
        }
        return ListenSocket(fd: fd, isOwned: true, summary: "tcp:\(address)")
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
