package import Foundation
import Glibc

/// Child processes and loopback ports for the tests that start servers: run a
/// command to completion, start a long-running one, wait for it, poll for a
/// condition. No sleeps that guess: everything waits for what it needs.
package enum Processes {
    /// A child that could not be started, or a command that failed.
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
        package init(description: String) { self.description = description }
    }

    package struct Output: Sendable {
        package var status: Int32
        package var stdout: String
        package var stderr: String

        @discardableResult
        package func checked() throws -> String {
            guard status == 0 else { throw Failure(description: "exit \(status): \(stderr)\(stdout)") }
            return stdout
        }
    }

    /// Runs a command to completion (posix_spawn + waitpid; output through files, so
    /// daemons it starts cannot hold a pipe open).
    package static func run(_ argv: [String], environment: [String: String], stdin: String? = nil) throws -> Output {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inPath = "\(dir)/in"
        let outPath = "\(dir)/out"
        let errPath = "\(dir)/err"
        try Data((stdin ?? "").utf8).write(to: URL(fileURLWithPath: inPath))
        let pid = try launch(argv, environment: environment) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let read = { (p: String) in (try? String(contentsOfFile: p, encoding: .utf8)) ?? "" }
        return Output(status: exit, stdout: read(outPath), stderr: read(errPath))
    }

    /// Starts a long-running child (its output appended to `log`); returns its pid.
    package static func spawn(_ argv: [String], environment: [String: String], log: String) throws -> pid_t {
        try launch(argv, environment: environment) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
    }

    /// posix_spawn through /usr/bin/env (PATH lookup), with the caller's stdio set-up.
    private static func launch(
        _ argv: [String], environment: [String: String],
        stdio: (inout posix_spawn_file_actions_t) -> Void
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        stdio(&actions)
        let cArgs = (["/usr/bin/env"] + argv).map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/env", &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw Failure(description: "posix_spawn \(argv[0]): \(rc)") }
        return pid
    }

    /// Waits for a child to exit, up to `timeout` seconds: its exit status, or nil.
    package static func waitExit(_ pid: pid_t, timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F) }
            usleep(5000)
        }
        return nil
    }

    /// Whether a process still runs. `kill(pid, 0)` alone is not enough: it also
    /// succeeds for a zombie, a process that has died but that its parent has not
    /// reaped yet (a child of ours we have not waited for, or an orphan whose new
    /// parent reaps late). Our own child is reaped here; anyone's is read from
    /// /proc (state Z or X is dead).
    package static func isRunning(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return false }
        guard kill(pid, 0) == 0,
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        // The state follows the command name, which may itself hold spaces and ')'.
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != nil && state != "Z" && state != "X"
    }

    /// Polls until `condition` holds, up to `timeout` seconds.
    package static func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// Binds a socket to 127.0.0.1, port 0, with SO_REUSEADDR and SO_REUSEPORT, and
    /// keeps it (bound, not listening): the kernel gives no other bind(0), nor any
    /// outgoing connection, a port that is bound, while nginx, also setting both
    /// options, may bind and listen on it. Close-on-exec: no child inherits it.
    package static func reservePort() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var on: Int32 = 1
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size)) == 0,
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size)) == 0,
            withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }) == 0,
            withUnsafeMutablePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }) == 0
        else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot reserve a loopback port: \(reason)")
        }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }
}
