package import ArgumentParser
import DurinCore
import DurinHTTP
import DurinStore
import Foundation
import RedisClient

/// The admin CLI: clients, users and tokens in the same Redis the responder uses,
/// configured by the same DURIN_* environment.
@main
struct Durinctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "durinctl",
        abstract: "Manage durin's API clients, users and tokens.",
        discussion: """
            Reads the service's settings by itself: /etc/durin/durin.env when it exists (or --env-file), as systemd \
            gives them to durin-fcgi; DURIN_* variables set in the environment win.
            """,
        subcommands: [
            ClientCommand.self, UserCommand.self, TokenCommand.self, EventsCommand.self, IssuerCommand.self, ImportCommand.self,
            CheckCommand.self, AssertionKeyCommand.self,
            MigrateCommand.self,
        ])

    /// ArgumentParser's own entry point, with its messages (an error may name a
    /// stored record) written through Terminal like everything else.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == .success { Terminal.out(message) } else { Terminal.err(message) }
            }
            Foundation.exit(code.rawValue)
        }
    }
}

/// Where durinctl's settings come from, shared by every subcommand that reaches
/// Redis: the service's env file, as systemd gives it to durin-fcgi, with any
/// DURIN_* variable set in durinctl's own environment taking precedence.
struct Settings: ParsableArguments {
    static let serviceEnvFile = "/etc/durin/durin.env"

    @Option(
        name: .customLong("env-file"),
        help: ArgumentHelp(
            "The service's settings (default: \(Settings.serviceEnvFile) when it exists). "
                + "DURIN_* variables set in the environment win.", valueName: "path"))
    var envFile: String?

    /// The settings file this run read, for messages that send the operator to it.
    /// (durinctl is one command on one thread.)
    nonisolated(unsafe) static var fileRead: String?

    /// The settings: the file's, then the environment's over them.
    func environment(
        _ process: [String: String] = ProcessInfo.processInfo.environment,
        fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
    ) throws -> [String: String] {
        let path = envFile ?? (fileExists(Self.serviceEnvFile) ? Self.serviceEnvFile : nil)
        guard let path else { return process }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIError("cannot read \(path)\(getuid() != 0 ? " (it is root's: run durinctl as root, or give --env-file)" : "")")
        }
        Self.fileRead = path
        return EnvironmentFile.parse(text).merging(process) { _, own in own }
    }

    /// Where the service's sealing secret is, when durinctl's is another.
    static var sealingAdvice: String {
        let own =
            ProcessInfo.processInfo.environment["DURIN_SECRET_KEY"].map { _ in
                " (DURIN_SECRET_KEY set in durinctl's environment wins over the file's: unset it)"
            } ?? ""
        if let fileRead {
            return "durinctl read \(fileRead)\(own); run it with the service's settings: --env-file with the file "
                + "durin.service reads (\(serviceEnvFile) as installed)"
        }
        return "durinctl read no settings file\(own); run it as root so that it reads \(serviceEnvFile), or give "
            + "--env-file with the file durin.service reads"
    }

    /// The configuration and a Redis connection.
    func context() throws -> Context {
        let env = try environment()
        let config: Configuration
        do { config = try Configuration.fromEnvironment(env) } catch {
            throw CLIError("invalid configuration: \(error)")
        }
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint.parse(config.redisURL) } catch { throw CLIError("DURIN_REDIS_URL: \(error)") }
        return Context(config: config, connection: endpoint.connection(timeoutMilliseconds: config.redisTimeoutMillis))
    }
}

/// Connection and settings shared by every subcommand.
struct Context {
    let config: Configuration
    let connection: any RedisCommandConnection
    var admin: AdminStore { AdminStore(connection: connection, configuration: config) }
    var tokens: TokenStore { TokenStore(connection: connection, configuration: config) }

    /// Before a command that seals tokens (import, migrate) writes anything: its
    /// secret must be the service's, or the service could not hand them back.
    /// A dry run (`writing` false) records nothing.
    func requireServiceSealingSecret(writing: Bool = true) throws {
        try attempt { try tokens.agreeOnSealingSecret(writing: writing) }
    }

    func format(_ millis: EpochMillis?) -> String { millis.map { config.expiryFormat.format($0) } ?? "never" }
}

// Typed arguments: a bad value is ArgumentParser's usage error, naming the option.

extension TokenTTL: ExpressibleByArgument {
    package init?(argument: String) {
        guard let ttl = TokenTTL.parse(argument) else { return nil }
        self = ttl
    }
    package static var defaultCompletionKind: CompletionKind { .list(["1d", "7d", "30d", "never"]) }
}

/// `--throttle N/s|m|h|d`, or `none` (also `off`, empty): no rate of the client's own.
enum ThrottleSetting: ExpressibleByArgument, Equatable {
    case none
    case rate(ThrottleRate)

    init?(argument: String) {
        if ["", "none", "off"].contains(argument.lowercased()) {
            self = .none
            return
        }
        guard let rate = ThrottleRate.parse(argument) else { return nil }
        self = .rate(rate)
    }

    var rate: ThrottleRate? {
        if case .rate(let r) = self { return r }
        return nil
    }
}

/// `--idle 30m|2h|7d`, or `none` (also `off`, empty): how long a token of the client
/// may go unused before it expires.
enum IdleSetting: ExpressibleByArgument, Equatable {
    case none
    case after(seconds: Int64)

    init?(argument: String) {
        if ["", "none", "off"].contains(argument.lowercased()) {
            self = .none
            return
        }
        guard let d = DurationSpec.parse(argument) else { return nil }
        self = .after(seconds: d.seconds)
    }

    var seconds: Int64? {
        if case .after(let s) = self { return s }
        return nil
    }

    static var defaultCompletionKind: CompletionKind { .list(["30m", "2h", "1d", "none"]) }
}

/// `--reuse-grace 30s`: how long a replaced token keeps working (0 to 1 h).
struct GraceSetting: ExpressibleByArgument, Equatable {
    let seconds: Int64

    init?(argument: String) {
        if argument == "0" {
            seconds = 0
            return
        }
        guard let d = DurationSpec.parse(argument), d.seconds <= 3600 else { return nil }
        seconds = d.seconds
    }
}

/// A client name: letters, digits and . _ - @ +, at most 64 bytes (it becomes part
/// of key names).
struct ClientName: Equatable, CustomStringConvertible {
    let value: String
    var description: String { value }

    /// For `@Argument(transform:)`: a refusal that says what a name may hold.
    static func parse(_ argument: String) throws -> ClientName {
        guard Names.isValidClientName(argument) else {
            throw ValidationError(
                "invalid client name \"\(Terminal.escaped(argument))\": letters, digits and . _ - @ + only, at most 64 bytes")
        }
        return ClientName(value: argument)
    }
}

/// An error for the user: printed to stderr, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a store call, turning its failures into messages for the user.
func attempt<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch StoreError.otherSealingSecret {
        throw CLIError("\(StoreError.otherSealingSecret); nothing was written. \(Settings.sealingAdvice)")
    } catch let e as StoreError {
        throw CLIError(e.description)
    } catch let e as AdminStore.Failure {
        throw CLIError(e.description)
    }
}

struct JSONFlag: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false
}

func printJSON(_ value: JSONValue) { Terminal.out(value.rendered) }

func readSecretFromStdin() throws -> String {
    var lines: [String] = []
    while let line = readLine(strippingNewline: true) { lines.append(line) }
    guard let first = lines.first, !first.isEmpty else { throw CLIError("no password on standard input") }
    return first
}
