import ArgumentParser
import DurinCore
import DurinStore
import Foundation
import RedisClient

/// `durinctl check`: what would fail in production, found before it does.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the configuration, Redis and its ACL rights, the secret, the clients and the nginx snippets.",
        discussion: """
            Reads the same DURIN_* environment as durin-fcgi (e.g. `set -a; . /etc/durin/durin.env; set +a`).
            Prints one line per check and what to fix; exits 1 when something would fail in production.
            """)

    @Option(help: "Where the nginx snippets are installed.") var nginxDir = "/etc/nginx/durin"
    @Option(help: "nginx's configuration root, searched for the `upstream durin` block.") var nginxRoot = "/etc/nginx"
    @Flag(help: "Skip the nginx checks (durin on another host than nginx).") var noNginx = false

    /// One finding: `ok`, a `warning` (works, but not as it should in production) or a failure.
    enum Level: String { case ok = "ok  ", warning = "warn", failure = "FAIL" }

    final class Report {
        var failures = 0
        func say(_ level: Level, _ what: String) {
            print("\(level.rawValue)  \(what)")
            if level == .failure { failures += 1 }
        }
    }

    func run() throws {
        let report = Report()
        let config: Configuration
        do {
            config = try Configuration.fromEnvironment(ProcessInfo.processInfo.environment)
            report.say(.ok, "settings: every DURIN_* value is valid")
        } catch {
            report.say(.failure, "settings: \(error)")
            throw ExitCode(1)
        }
        if config.secretKey != nil {
            report.say(.ok, "DURIN_SECRET_KEY: strong enough to seal tokens")
        } else {
            report.say(.warning, "DURIN_SECRET_KEY is not set: the sealing secret is kept in Redis itself, so a copy of "
                + "the Redis data can recreate live tokens; set one: openssl rand -hex 32")
        }
        checkRedis(config, report)
        if !noNginx { checkNginx(report) }
        print(report.failures == 0 ? "durin: ready for production" : "durin: \(report.failures) problem(s) to fix")
        if report.failures > 0 { throw ExitCode(1) }
    }

    private func checkRedis(_ config: Configuration, _ report: Report) {
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint.parse(config.redisURL) } catch {
            report.say(.failure, "DURIN_REDIS_URL: \(error)")
            return
        }
        let connection = endpoint.connection(timeoutMilliseconds: config.redisTimeoutMillis)
        let keys = KeySpace(configuration: config)
        do {
            try RedisRights.check(connection, keys: keys, tracking: config.tokenCacheTimeout > 0 && !endpoint.isCluster)
            report.say(.ok, "Redis at \(endpoint): reachable, and its user may run every command durin needs on \(keys.prefix)*")
        } catch .unavailable(let why) {
            report.say(.failure, "Redis at \(endpoint) is unreachable (\(why)): start it, or fix DURIN_REDIS_URL")
            return
        } catch {
            report.say(.failure, "Redis at \(endpoint): \(error)")
            return
        }
        if endpoint.password == nil {
            report.say(.warning, "DURIN_REDIS_URL has no credentials: give durin its own ACL user (README, Redis in production)")
        }
        checkRedisSettings(connection, report)

        let admin = AdminStore(connection: connection, configuration: config)
        do {
            let clients = try admin.clients()
            if clients.isEmpty {
                report.say(.failure, "no API clients: every login answers \"No client with that name.\"; add one: durinctl client add web")
            } else {
                report.say(.ok, "API clients: " + clients.map(\.name).sorted().joined(separator: ", "))
            }
            if let name = config.apiAccessClientName {
                if clients.contains(where: { $0.name == name }) {
                    report.say(.ok, "DURIN_API_ACCESS_CLIENT_NAME: client \(name) exists")
                } else {
                    report.say(.failure, "DURIN_API_ACCESS_CLIENT_NAME names \(name), which is no client: apiaccess/ answers 404; "
                        + "add it: durinctl client add \(name)")
                }
            }
        } catch {
            report.say(.failure, "reading the clients: \(error)")
        }
    }

    /// Persistence and eviction: what decides whether a crash or full memory logs users out.
    /// CONFIG is usually not granted to durin's ACL user; then this is skipped, not failed.
    private func checkRedisSettings(_ connection: any RedisCommandConnection, _ report: Report) {
        func config(_ name: String) -> String? {
            guard let reply = try? connection.send("CONFIG", "GET", name), let items = reply.array, items.count == 2 else { return nil }
            return items[1].string
        }
        guard let policy = config("maxmemory-policy") else {
            report.say(.ok, "Redis persistence and eviction: not visible to this user (CONFIG is not granted); "
                + "see README, Redis in production")
            return
        }
        if policy == "noeviction" {
            report.say(.ok, "Redis maxmemory-policy noeviction: full memory refuses logins instead of dropping tokens")
        } else {
            report.say(.failure, "Redis maxmemory-policy is \(policy): eviction would silently log users out; "
                + "set maxmemory-policy noeviction")
        }
        let aof = config("appendonly") == "yes"
        let fsync = config("appendfsync") ?? "?"
        if aof {
            report.say(.ok, "Redis appendonly yes, appendfsync \(fsync)")
        } else {
            report.say(.warning, "Redis appendonly is off: a crash loses every token issued since the last snapshot; "
                + "set appendonly yes (appendfsync everysec)")
        }
    }

    private func checkNginx(_ report: Report) {
        // A distinctive line of each shipped snippet: an old or edited copy lacks it.
        let snippets = [
            ("durin-server.conf", "location = /_durin/verify"),
            ("durin-api.conf", "fastcgi_param PATH_INFO"),
            ("durin-protect.conf", "auth_request /_durin/verify;"),
        ]
        for (file, marker) in snippets {
            let path = "\(nginxDir)/\(file)"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                report.say(.failure, "nginx snippet \(path) is missing: install it (make install, or the durin package)")
                continue
            }
            if text.contains(marker) {
                report.say(.ok, "nginx snippet \(path)")
            } else {
                report.say(.failure, "nginx snippet \(path) lacks `\(marker)`: replace it with the shipped one")
            }
        }
        // What nginx loads: its root's own files and the enabled sites, not sites-available.
        let enabled = [nginxRoot, "\(nginxRoot)/sites-enabled", "\(nginxRoot)/conf.d"].flatMap { base -> [String] in
            ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).map { "\(base)/\($0)" }
        }
        let upstream = enabled.contains { path in
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("upstream durin")
        }
        if upstream {
            report.say(.ok, "nginx: an enabled configuration defines `upstream durin`")
        } else {
            report.say(.failure, "nginx: no enabled configuration defines `upstream durin` (the snippets pass requests to it); "
                + "enable the example site: ln -s ../sites-available/durin \(nginxRoot)/sites-enabled/durin")
        }
    }
}
