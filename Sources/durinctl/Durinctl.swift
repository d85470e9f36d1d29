import ArgumentParser
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
        discussion: "Reads the same DURIN_* environment as durin-fcgi (DURIN_REDIS_URL, DURIN_KEY_PREFIX, ...).",
        subcommands: [ClientCommand.self, UserCommand.self, TokenCommand.self, EventsCommand.self, IssuerCommand.self, ImportCommand.self, CheckCommand.self,
                      MigrateCommand.self])

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

/// Connection and settings shared by every subcommand.
struct Context {
    let config: Configuration
    let connection: any RedisCommandConnection
    var admin: AdminStore { AdminStore(connection: connection, configuration: config) }
    var tokens: TokenStore { TokenStore(connection: connection, configuration: config) }

    static func load() throws -> Context {
        let config: Configuration
        do { config = try Configuration.fromEnvironment(ProcessInfo.processInfo.environment) } catch {
            throw CLIError("invalid configuration: \(error)")
        }
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint.parse(config.redisURL) } catch { throw CLIError("DURIN_REDIS_URL: \(error)") }
        return Context(config: config, connection: endpoint.connection(timeoutMilliseconds: config.redisTimeoutMillis))
    }

    func format(_ millis: EpochMillis?) -> String { millis.map { config.expiryFormat.format($0) } ?? "never" }
}

/// An error for the user: printed to stderr, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a store call, turning its failures into messages for the user.
func attempt<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as StoreError {
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
