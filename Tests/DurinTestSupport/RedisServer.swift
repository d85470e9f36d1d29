package import Foundation
import Glibc
package import RedisClient

/// A redis-server of the test's own on a unix socket in a temporary directory: no
/// TCP port, so nothing to race for. Readiness is polled, never slept for. Shared by
/// the test targets that need a real Redis without nginx (DurinStoreTests, the
/// in-process route tests).
package final class RedisServer: @unchecked Sendable {
    package let dir: String
    package let socket: String
    package let pid: pid_t

    /// - Parameters:
    ///   - settings: redis-server arguments that replace or add to the defaults
    ///     (`["--appendonly", "yes"]`).
    ///   - dir: a directory of an earlier server's, to start on its data again.
    package init(settings: [String] = [], dir existing: String? = nil) throws {
        dir = existing ?? FileManager.default.temporaryDirectory.appendingPathComponent("durin-store-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        socket = "\(dir)/redis.sock"
        var pid: pid_t = 0
        let argv =
            [
                "redis-server", "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--dir", dir,
                "--save", "", "--appendonly", "no", "--logfile", "\(dir)/redis.log",
            ] + settings
        let cArgs = (["/usr/bin/env"] + argv).map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        guard posix_spawn(&pid, "/usr/bin/env", &actions, nil, cArgs, environ) == 0 else {
            throw StartFailure(message: "cannot start redis-server (is it installed?)")
        }
        self.pid = pid
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            // Any answer but LOADING: a server whose default user has a password answers NOAUTH.
            switch try? connection().send("PING") {
            case .status("PONG")?: return
            case .error(let message)? where message.hasPrefix("NOAUTH"): return
            default: break
            }
            usleep(10_000)
        }
        stop()
        throw StartFailure(message: "redis-server did not answer on \(socket) within 10 s")
    }

    /// A regular target cannot import XCTest (a plain `swift build` builds it too), so a
    /// server that does not start is an error of its own: the test fails, never skips.
    package struct StartFailure: Error, CustomStringConvertible {
        package let message: String
        package var description: String { message }
    }

    package var endpoint: RedisEndpoint { RedisEndpoint(address: .unix(path: socket)) }

    package func connection(readTimeout: Bool = true) -> RedisConnection {
        RedisConnection(endpoint: endpoint, timeoutMilliseconds: 2000, readTimeout: readTimeout)
    }

    package func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Stops the server as systemd does (SIGTERM: it writes and syncs its files),
    /// keeping its directory for a next server.
    package func shutDown() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}
