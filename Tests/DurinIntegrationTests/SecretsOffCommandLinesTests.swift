import DurinTestSupport
import Foundation
import XCTest

/// No secret is ever on a command line, where every local user reads it (`ps`,
/// /proc/PID/cmdline): each command that takes or makes one runs under
/// `strace -f -e trace=execve`, which records the arguments of every program it and
/// its children start, while a poller reads every process's command line; neither
/// may hold the secret.
final class SecretsOffCommandLinesTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-argv-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "strace is not installed (see .ci/run)")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs `argv` under strace (its own and its children's execve calls logged),
    /// reading every process's command line meanwhile; returns its output, the
    /// execve log and every command line seen.
    func traced(_ argv: [String], environment: [String: String], stdin: String? = nil) throws
        -> (output: Processes.Output, execs: String, seen: Set<String>)
    {
        let log = "\(dir)/strace-\(UUID().uuidString.prefix(6))"
        let seen = Locked<Set<String>>([])
        let done = Locked<Bool>(false)
        let poller = Thread {
            while done.get() != true {
                for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where pid.allSatisfy(\.isNumber) {
                    if let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty {
                        let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
                        seen.update { $0?.insert(line) }
                    }
                }
            }
        }
        poller.start()
        defer { done.set(true) }
        let output = try Processes.run(
            ["strace", "-f", "-qq", "-e", "trace=execve", "-s", "65536", "-o", log] + argv,
            environment: environment, stdin: stdin)
        done.set(true)
        while !poller.isFinished { usleep(1000) }
        let execs = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(execs.contains("execve(\""), "strace recorded no program: \(execs.prefix(200))")
        return (output, execs, seen.get() ?? [])
    }

    func assertNowhere(
        _ secret: String, in run: (output: Processes.Output, execs: String, seen: Set<String>), _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertGreaterThanOrEqual(secret.count, 8, "a secret to look for", file: file, line: line)
        XCTAssertFalse(run.execs.contains(secret), "\(what): the secret is in a program's arguments", file: file, line: line)
        XCTAssertFalse(run.seen.contains { $0.contains(secret) }, "\(what): the secret is in a command line", file: file, line: line)
    }

    /// The installer's env file and nginx include, first written and then upgraded:
    /// both secrets made and written without a program ever given them as an argument.
    func testWriteEnvWritesSecretsThroughNoArgument() throws {
        let env = "\(dir)/durin.env"
        let include = "\(dir)/proxy-key.conf"
        let script = "\(Stack.root)/scripts/write-env.sh"
        let processEnv = ProcessInfo.processInfo.environment
        let first = try traced([script, "\(Stack.root)/systemd/durin.env", env, include], environment: processEnv)
        XCTAssertEqual(first.output.status, 0, first.output.stderr)
        let written = try String(contentsOfFile: env, encoding: .utf8)
        let secret = try XCTUnwrap(written.split(separator: "\n").first { $0.hasPrefix("DURIN_SECRET_KEY=") }).dropFirst(17)
        let key = try XCTUnwrap(written.split(separator: "\n").first { $0.hasPrefix("DURIN_PROXY_KEY=") }).dropFirst(16)
        XCTAssertEqual(secret.count, 64)
        XCTAssertEqual(key.count, 64)
        assertNowhere(String(secret), in: first, "write-env.sh (the sealing secret)")
        assertNowhere(String(key), in: first, "write-env.sh (the proxy key)")
        XCTAssertTrue(try String(contentsOfFile: include, encoding: .utf8).contains("\"\(key)\""))

        // An env file from before the proxy key: the key is added, still through no argument.
        try written.split(separator: "\n").filter { !$0.hasPrefix("DURIN_PROXY_KEY=") }.joined(separator: "\n")
            .write(toFile: env, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: include)
        let upgrade = try traced([script, "\(Stack.root)/systemd/durin.env", env, include], environment: processEnv)
        XCTAssertEqual(upgrade.output.status, 0, upgrade.output.stderr)
        let added = try XCTUnwrap(
            try String(contentsOfFile: env, encoding: .utf8).split(separator: "\n")
                .first { $0.hasPrefix("DURIN_PROXY_KEY=") }
        ).dropFirst(16)
        assertNowhere(String(added), in: upgrade, "write-env.sh on upgrade (the proxy key)")
        assertNowhere(String(secret), in: upgrade, "write-env.sh on upgrade (the sealing secret)")
    }

    /// durinctl's secrets arrive on standard input or in the environment: a user's
    /// password and Django hash, the password of the server `migrate --from` reads;
    /// one in --from's URL is refused.
    func testDurinctlTakesSecretsFromStdinAndTheEnvironment() throws {
        let stack = try Stack()
        defer { stack.stop() }
        let env = stack.environment.merging(stack.stackEnv) { $1 }
        let ctl = "\(Stack.binDir)/durinctl"
        let password = "pw-\(UUID().uuidString)"
        let add = try traced([ctl, "user", "add", "sam", "--password-stdin"], environment: env, stdin: password + "\n")
        XCTAssertEqual(add.output.status, 0, add.output.stderr)
        assertNowhere(password, in: add, "user add --password-stdin")

        let hash = "pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP/VNuP0="
        let imported = try traced([ctl, "user", "add", "tom", "--password-hash"], environment: env, stdin: hash + "\n")
        XCTAssertEqual(imported.output.status, 0, imported.output.stderr)
        assertNowhere("3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP", in: imported, "user add --password-hash")

        // The source server's password: from the environment, and from stdin.
        let source = "unix://mover@\(stack.state)/redis.sock"
        let sourcePassword = "src-\(UUID().uuidString)"
        let fromEnv = try traced(
            [ctl, "migrate", "--from", source, "--dry-run"],
            environment: env.merging(["DURIN_MIGRATE_FROM_PASSWORD": sourcePassword]) { $1 })
        assertNowhere(sourcePassword, in: fromEnv, "migrate --from (DURIN_MIGRATE_FROM_PASSWORD)")
        XCTAssertFalse(fromEnv.output.stderr.contains(sourcePassword), "never printed either")
        let fromStdin = try traced(
            [ctl, "migrate", "--from", source, "--from-password-stdin", "--dry-run"],
            environment: env, stdin: sourcePassword + "\n")
        assertNowhere(sourcePassword, in: fromStdin, "migrate --from --from-password-stdin")
        let inURL = try stack.durinctl(["migrate", "--from", "unix://mover:\(sourcePassword)@\(stack.state)/redis.sock"])
        XCTAssertNotEqual(inURL.status, 0)
        XCTAssertTrue(inURL.stderr.contains("DURIN_MIGRATE_FROM_PASSWORD"), inURL.stderr)
        XCTAssertFalse(inURL.stderr.contains(sourcePassword), inURL.stderr)
    }
}
