import ArgumentParser
import DurinCore
import DurinHTTP
import DurinStore
import Foundation

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue, list and revoke tokens.",
        subcommands: [Issue.self, List.self, Revoke.self, Key.self])

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a token for USER and CLIENT and print it (the pair's live token if it has one, as login does).")
        @Argument var user: String
        @Argument var client: String
        @Option(help: ArgumentHelp("The session's label, as a login's `label` (a kiosk's name, say).", valueName: "text"))
        var label: String?
        @Option(help: ArgumentHelp("The address to show with the session, as nginx would give a login's.", valueName: "address"))
        var address: String?
        @Option(help: ArgumentHelp("The user agent to show with the session, shortened as a login's.", valueName: "text"))
        var userAgent: String?
        @OptionGroup var settings: Settings

        func validate() throws {
            if let label, let problem = SessionDetails.labelProblem(label) { throw ValidationError("--label: \(problem)") }
            if let address, SessionDetails(address: address).address == nil { throw ValidationError("--address: not an IP address") }
        }

        func run() throws {
            let ctx = try settings.context()
            guard try attempt({ try ctx.admin.user(named: user) }) != nil else { throw CLIError("no user \(user)") }
            let details = SessionDetails(address: address, userAgent: userAgent, label: label)
            let result = try attempt {
                try ctx.tokens.login(user: user, client: client, mode: .keep, event: "token_issued", details: details)
            }
            switch result {
            case .failure(.noClient) where client == ctx.tokens.consoleClient:
                throw CLIError(
                    "\(client) is the operator console's client (DURIN_CONSOLE_CLIENT): its sessions come only "
                        + "from the console's sign-in")
            case .failure(.noClient): throw CLIError("no client \(client)")
            case .failure(.userInactive): throw CLIError("user \(user) is inactive")
            case .failure(.alreadyExists): throw CLIError("a token exists already")
            case .success(let issued): Terminal.out(issued.token.value)
            }
        }
    }

    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the Redis key of the token read from standard input (never from the command line, where ps shows it).")
        @OptionGroup var settings: Settings
        func run() throws {
            guard let token = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces), !token.isEmpty else {
                throw CLIError("no token on standard input")
            }
            let ctx = try settings.context()
            let keys = KeySpace(configuration: ctx.config)
            let digest = Token.digest(of: token)
            // A token moved into a cluster from one server lives under its user's tag.
            if keys.cluster, let home = (try? ctx.connection.send(["GET", keys.tokenHome(digest)]))?.string {
                Terminal.out(keys.token(digest, home: home))
            } else {
                Terminal.out(keys.token(digest))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List live tokens (never the tokens themselves).")
        @Option var user: String?
        @Option var client: String?
        @OptionGroup var output: JSONFlag
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let tokens = try attempt { try ctx.admin.tokens(user: user, client: client) }
            if output.json {
                printJSON(
                    .array(
                        tokens.map { t in
                            var fields = RecordJSON.session(t, time: { ctx.format($0) })
                            fields.insert(("user", .string(t.user)), at: 1)
                            return .object(fields + [("digest", .string(t.digest))])
                        }))
            } else {
                for t in tokens {
                    var line = "\(t.id)\t\(t.user)\t\(t.client)\texpires \(ctx.format(t.expiry))"
                    line += "\tlast used \(t.lastUsed.map { ctx.format($0) } ?? "unknown")"
                    if let idle = t.idleSeconds { line += " (idle timeout \(DurationSpec(seconds: idle)))" }
                    if let address = t.details.address { line += "\tfrom \(address)" }
                    if let agent = t.details.userAgent { line += "\t\(agent)" }
                    if let label = t.details.label { line += "\t[\(label)]" }
                    Terminal.out(line)
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a user's tokens (all, or one client's).")
        @Option var user: String
        @Option var client: String?
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let revoked = try attempt { try ctx.tokens.revokeAll(user: user, client: client, reason: "cli") }
            Terminal.out("revoked \(revoked.count) token\(revoked.count == 1 ? "" : "s")")
        }
    }
}
