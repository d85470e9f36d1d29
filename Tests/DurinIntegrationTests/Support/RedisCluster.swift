import DurinTestSupport
import Foundation
import Glibc
import XCTest

/// A real Redis Cluster on loopback: three masters and three replicas
/// (`redis-server --cluster-enabled yes`, joined by `redis-cli --cluster create`),
/// each with its data port and cluster-bus port held for it by the test, in a
/// temporary directory that goes with it.
final class RedisCluster: @unchecked Sendable {
    struct Node {
        let port: UInt16
        let pid: pid_t
    }

    let dir: String
    private(set) var nodes: [Node] = []

    /// The URL durin takes: every node as a seed.
    var url: String { "redis-cluster://" + nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }

    init(nodeTimeoutMillis: Int = 2000) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-cluster-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Redis binds its ports with SO_REUSEADDR beside the non-listening holders.
        let reserved = try (0..<12).map { _ in try Processes.reservePort() }
        defer { reserved.forEach { close($0.fd) } }
        let env = ProcessInfo.processInfo.environment
        do {
            for i in 0..<6 {
                let (port, bus) = (reserved[i].port, reserved[i + 6].port)
                let pid = try Processes.spawn(
                    [
                        "redis-server", "--port", String(port), "--cluster-port", String(bus), "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes", "--cluster-config-file", "nodes-\(port).conf",
                        "--cluster-node-timeout", String(nodeTimeoutMillis), "--save", "", "--appendonly", "no",
                        "--dir", dir, "--dbfilename", "dump-\(port).rdb",
                    ],
                    environment: env, log: "\(dir)/redis-\(port).log")
                nodes.append(Node(port: port, pid: pid))
            }
            for node in nodes {
                guard Processes.eventually(timeout: 10, { self.cli(node.port, "PING") == "PONG" }) else {
                    throw RawHTTP.Failure(description: "cluster node \(node.port) never answered")
                }
            }
            let create = try Processes.run(
                ["redis-cli", "--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                    + ["--cluster-replicas", "1", "--cluster-yes"], environment: env)
            guard create.status == 0 else { throw RawHTTP.Failure(description: "cluster create: \(create.stdout)\(create.stderr)") }
            guard Processes.eventually(timeout: 30, { self.isHealthy() }) else {
                throw RawHTTP.Failure(description: "the cluster never reached cluster_state:ok with two replicas caught up")
            }
        } catch {
            stop()
            throw error
        }
    }

    func stop() {
        for node in nodes {
            Glibc.kill(node.pid, SIGKILL)
            _ = Processes.waitExit(node.pid, timeout: 5)
        }
        nodes = []
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// One redis-cli command on a node, its output trimmed.
    func cli(_ port: UInt16, _ args: String...) -> String { cli(port, args) }

    func cli(_ port: UInt16, _ args: [String]) -> String {
        (try? Processes.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", String(port)] + args,
            environment: ProcessInfo.processInfo.environment
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? ""
    }

    /// Every node sees every slot served, and each master has its replica in sync.
    func isHealthy() -> Bool {
        nodes.allSatisfy { cli($0.port, "CLUSTER", "INFO").contains("cluster_state:ok") }
            && masters().count == 3
            && nodes.filter { cli($0.port, "ROLE").hasPrefix("slave") }.allSatisfy {
                cli($0.port, "INFO", "replication").contains("master_link_status:up")
            }
    }

    /// Kills a node with SIGKILL and reaps it: from then on it is gone for every
    /// question this type asks.
    func kill(port: UInt16) {
        guard let node = nodes.first(where: { $0.port == port }) else { return }
        Glibc.kill(node.pid, SIGKILL)
        _ = Processes.waitExit(node.pid, timeout: 5)
    }

    /// CLUSTER NODES as seen by a node that answers. A live pid is not enough: a
    /// killed node stays a zombie until it is reaped, and `kill(pid, 0)` succeeds
    /// for a zombie; a node that answers PING is alive and serving.
    func clusterNodes() -> String {
        for node in nodes where Processes.isRunning(node.pid) && cli(node.port, "PING") == "PONG" {
            let view = cli(node.port, "CLUSTER", "NODES")
            if !view.isEmpty { return view }
        }
        return ""
    }

    /// (node id, port) of each master, from CLUSTER NODES.
    func masters() -> [(id: String, port: UInt16)] {
        clusterNodes().split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count >= 8, f[2].contains("master"), !f[2].contains("fail"), let colon = f[1].firstIndex(of: ":") else { return nil }
            let portText = f[1][f[1].index(after: colon)...].prefix { $0.isNumber }
            return UInt16(portText).map { (String(f[0]), $0) }
        }
    }

    /// How many slots each master serves, by port (from CLUSTER NODES).
    func slotCounts() -> [UInt16: Int] {
        var counts: [UInt16: Int] = [:]
        for line in clusterNodes().split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 8, f[2].contains("master"), let colon = f[1].firstIndex(of: ":"),
                let port = UInt16(f[1][f[1].index(after: colon)...].prefix { $0.isNumber })
            else { continue }
            counts[port] = f.dropFirst(8).filter { !$0.hasPrefix("[") }.reduce(0) { total, range in
                let ends = range.split(separator: "-").compactMap { Int($0) }
                return total + (ends.count == 2 ? ends[1] - ends[0] + 1 : ends.count)
            }
        }
        return counts
    }
}

extension Stack {
    /// One redis-cli command against `cluster`, following its redirections.
    func redisCLICluster(_ cluster: RedisCluster, _ args: String...) throws -> String {
        try Processes.run(
            ["redis-cli", "-c", "-h", "127.0.0.1", "-p", String(cluster.nodes[0].port)] + args,
            environment: environment.filter { $0.key != "REDISCLI_AUTH" }
        )
        .checked().trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
