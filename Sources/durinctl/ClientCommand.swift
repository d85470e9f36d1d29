import ArgumentParser
import DurinCore
import DurinHTTP
import DurinStore

struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Manage API clients (web, cli, mobile, ...).",
        subcommands: [Add.self, List.self, Show.self, Set.self, Remove.self])

    static func ttl(_ text: String?) throws -> TokenTTL? {
        guard let text else { return nil }
        guard let ttl = TokenTTL.parse(text) else { throw CLIError("--ttl: expected a duration (86400, 30m, 12h, 7d) or never") }
        return ttl
    }

    static func throttle(_ text: String?) throws -> ThrottleRate?? {
        guard let text else { return nil }
        if text.isEmpty || text == "none" || text == "off" { return .some(nil) }
        guard let rate = ThrottleRate.parse(text) else { throw CLIError("--throttle: expected N/s, N/m, N/h or N/d (or none)") }
        return .some(rate)
    }

    static func json(_ c: ClientRecord, _ ctx: Context) -> JSONValue {
        ["name": .string(c.name), "token_ttl": .string(c.tokenTTL.description),
         "throttle_rate": c.throttleRate.map { .string($0.description) } ?? .null,
         "created": .string(ctx.format(c.created))]
    }

    static func text(_ c: ClientRecord) -> String {
        "\(c.name)\tttl=\(c.tokenTTL)\tthrottle=\(c.throttleRate?.description ?? "none")"
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a client.")
        @Argument(help: "Client name (letters, digits, . _ - @ +; at most 64).") var name: String
        @Option(help: "Token lifetime: 86400, 30m, 12h, 7d or never (default: DURIN_DEFAULT_TOKEN_TTL).") var ttl: String?
        @Option(help: "Throttle rate for protected locations: N/s, N/m, N/h or N/d.") var throttle: String?

        func run() throws {
            guard Names.isValidClientName(name) else { throw CLIError("invalid client name \"\(name)\"") }
            let ctx = try Context.load()
            let record = ClientRecord(name: name, tokenTTL: try ClientCommand.ttl(ttl) ?? ctx.config.defaultTokenTTL,
                                      throttleRate: try ClientCommand.throttle(throttle) ?? nil, created: WallClock.nowMillis())
            try attempt { try ctx.admin.addClient(record) }
            Terminal.out("added client \(ClientCommand.text(record))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients.")
        @OptionGroup var output: JSONFlag
        func run() throws {
            let ctx = try Context.load()
            let clients = try attempt { try ctx.admin.clients() }
            if output.json { printJSON(.array(clients.map { ClientCommand.json($0, ctx) })) } else {
                clients.forEach { Terminal.out(ClientCommand.text($0)) }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one client.")
        @Argument var name: String
        @OptionGroup var output: JSONFlag
        func run() throws {
            let ctx = try Context.load()
            guard let c = try attempt({ try ctx.admin.client(named: name) }) else { throw CLIError("no client \(name)") }
            if output.json { printJSON(ClientCommand.json(c, ctx)) } else {
                Terminal.out("name:          \(c.name)\ntoken_ttl:     \(c.tokenTTL)\nthrottle_rate: \(c.throttleRate?.description ?? "none")\ncreated:       \(ctx.format(c.created))")
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a client's TTL or throttle rate (existing tokens keep their expiry until renewed).")
        @Argument var name: String
        @Option(help: "Token lifetime: 86400, 30m, 12h, 7d or never.") var ttl: String?
        @Option(help: "Throttle rate N/s|m|h|d, or none.") var throttle: String?
        func run() throws {
            guard ttl != nil || throttle != nil else { throw CLIError("nothing to change: give --ttl and/or --throttle") }
            let ctx = try Context.load()
            try attempt { try ctx.admin.updateClient(name, ttl: try ClientCommand.ttl(ttl), throttle: try ClientCommand.throttle(throttle)) }
            Terminal.out("updated client \(name)")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a client and every token issued to it.")
        @Argument var name: String
        func run() throws {
            let ctx = try Context.load()
            let n = try attempt { try ctx.admin.removeClient(name) }
            Terminal.out("removed client \(name) and \(n) token\(n == 1 ? "" : "s")")
        }
    }
}
