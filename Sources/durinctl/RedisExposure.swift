import Foundation
import RedisClient

/// Who else can reach the Redis durin keeps its tokens in: a connection without
/// credentials, a listener on a network address, traffic that crosses hosts in
/// clear. `durinctl check` reports each.
enum RedisExposure {
    /// The same places, without credentials: each node a connection would reach
    /// first (for Sentinel, the sentinels themselves are not durin's data).
    static func anonymousEndpoints(_ endpoint: RedisEndpoint) -> [RedisEndpoint] {
        switch endpoint.address {
        case .unix, .tcp: return [RedisEndpoint(address: endpoint.address)]
        case .cluster(let nodes): return nodes.map { RedisEndpoint(address: .tcp(host: $0.host, port: $0.port)) }
        case .sentinel: return []
        }
    }

    enum Anonymous: Equatable {
        /// The server ran a command for a connection that had not logged in.
        case answered
        /// NOAUTH (or any refusal): what a closed server says.
        case refused
        case unreachable(String)
    }

    /// Sends PING on a connection without credentials.
    static func anonymousPing(_ endpoint: RedisEndpoint, timeoutMilliseconds: Int) -> Anonymous {
        let connection = RedisConnection(endpoint: endpoint, timeoutMilliseconds: timeoutMilliseconds)
        do {
            switch try connection.send("PING") {
            case .error: return .refused
            default: return .answered
            }
        } catch {
            return .unreachable("\(error)")
        }
    }

    /// Whether a host name is this host's loopback (traffic never leaves it).
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.") || host.hasPrefix("::ffff:127.")
    }

    /// The nodes durin reaches over TCP on another host: their traffic is clear text.
    static func remoteNodes(_ endpoint: RedisEndpoint) -> [RedisEndpoint.Node] {
        let nodes: [RedisEndpoint.Node]
        switch endpoint.address {
        case .unix: nodes = []
        case .tcp(let host, let port): nodes = [.init(host: host, port: port)]
        case .sentinel(let list, _), .cluster(let list): nodes = list
        }
        return nodes.filter { !isLoopback($0.host) }
    }

    /// One listening TCP socket: its local address as text and whether that is loopback.
    struct Listener: Equatable, CustomStringConvertible {
        let address: String
        let port: Int
        let loopback: Bool
        var description: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }
    }

    enum Listeners {
        case found([Listener])
        /// No redis-server process is visible here (Redis on another host, or in
        /// another PID namespace).
        case noLocalRedis
        /// Its sockets are not readable by this user (run as root).
        case hidden
    }

    /// The TCP sockets on which this host's redis-server processes listen, read
    /// from /proc: each process's socket inodes, matched in /proc/net/tcp and tcp6.
    static func localRedisListeners(proc: String = "/proc") -> Listeners {
        let fm = FileManager.default
        let pids = ((try? fm.contentsOfDirectory(atPath: proc)) ?? []).filter { $0.allSatisfy(\.isNumber) }
        let redis = pids.filter {
            (try? String(contentsOfFile: "\(proc)/\($0)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) == "redis-server"
        }
        guard !redis.isEmpty else { return .noLocalRedis }
        var inodes = Set<String>()
        var readable = false
        for pid in redis {
            guard let fds = try? fm.contentsOfDirectory(atPath: "\(proc)/\(pid)/fd") else { continue }
            readable = true
            for fd in fds {
                guard let target = try? fm.destinationOfSymbolicLink(atPath: "\(proc)/\(pid)/fd/\(fd)"),
                    target.hasPrefix("socket:["), target.hasSuffix("]")
                else { continue }
                inodes.insert(String(target.dropFirst("socket:[".count).dropLast()))
            }
        }
        guard readable else { return .hidden }
        var found: [Listener] = []
        for table in ["tcp", "tcp6"] {
            let text = (try? String(contentsOfFile: "\(proc)/net/\(table)", encoding: .utf8)) ?? ""
            found += listeners(inTable: text, inodes: inodes)
        }
        return .found(found)
    }

    /// Parses a /proc/net/tcp or tcp6 table: the LISTEN sockets among `inodes`.
    static func listeners(inTable text: String, inodes: Set<String>) -> [Listener] {
        var out: [Listener] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            guard f.count >= 10, f[3] == "0A", inodes.contains(String(f[9])) else { continue }
            let local = f[1].split(separator: ":")
            guard local.count == 2, let port = Int(local[1], radix: 16), let address = decode(String(local[0])) else { continue }
            out.append(Listener(address: address.text, port: port, loopback: address.loopback))
        }
        return out
    }

    /// An address as /proc/net writes it: hex of 32-bit words in host (little-endian) order.
    static func decode(_ hex: String) -> (text: String, loopback: Bool)? {
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 8, limitedBy: hex.endIndex) ?? hex.endIndex
            guard let word = UInt32(hex[i..<j], radix: 16) else { return nil }
            withUnsafeBytes(of: word) { bytes += $0 }  // the word's bytes in memory order: the address's
            i = j
        }
        if bytes.count == 4 {
            return (bytes.map(String.init).joined(separator: "."), bytes[0] == 127)
        }
        guard bytes.count == 16 else { return nil }
        let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        if mapped { return ("::ffff:" + bytes[12...].map(String.init).joined(separator: "."), bytes[12] == 127) }
        let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        let loopback = bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
        return (groups.joined(separator: ":"), loopback)
    }
}
