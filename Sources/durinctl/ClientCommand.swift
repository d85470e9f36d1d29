import ArgumentParser
import DurinCore
import DurinHTTP
import DurinStore

struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Manage API clients (web, cli, mobile, ...).",
        subcommands: [Add.self, List.self, Show.self, Set.self, Remove.self])

    static func json(_ c: ClientRecord, _ ctx: Context) -> JSONValue {
        .object(RecordJSON.client(c, time: { ctx.format($0) }))
    }

    static func text(_ c: ClientRecord) -> String {
        "\(c.name)\tttl=\(c.tokenTTL)\tthrottle=\(c.throttleRate?.description ?? "none")\tidle=\(idleText(c.idleTimeout))"
            + (c.cookie ? "\tcookie" : "")
    }

    static func idleText(_ seconds: Int64?) -> String { seconds.map { DurationSpec(seconds: $0).description } ?? "none" }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a client.")
        @Argument(help: "Client name (letters, digits, . _ - @ +; at most 64).", transform: ClientName.parse) var name: ClientName
        @Option(help: "Token lifetime: 86400, 30m, 12h, 7d or never (default: DURIN_DEFAULT_TOKEN_TTL).") var ttl: TokenTTL?
        @Option(help: "Throttle rate for protected locations: N/s, N/m, N/h or N/d.") var throttle: ThrottleSetting?
        @Option(
            help: ArgumentHelp(
                "A token unused this long expires (the TTL stays its cap): 30m, 2h, 7d; default none.",
                valueName: "duration"))
        var idle: IdleSetting?
        @Flag(help: "A client for browsers: at a location with `$durin_cookie on`, a login sets the durin_session cookie.")
        var cookie = false
        @OptionGroup var settings: Settings

        func run() throws {
            let ctx = try settings.context()
            let record = ClientRecord(
                name: name.value, tokenTTL: ttl ?? ctx.config.defaultTokenTTL,
                throttleRate: throttle?.rate, created: WallClock.nowMillis(), idleTimeout: idle?.seconds, cookie: cookie)
            try attempt { try ctx.admin.addClient(record) }
            Terminal.out("added client \(ClientCommand.text(record))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients.")
        @OptionGroup var output: JSONFlag
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let clients = try attempt { try ctx.admin.clients() }
            if output.json {
                printJSON(.array(clients.map { ClientCommand.json($0, ctx) }))
            } else {
                clients.forEach { Terminal.out(ClientCommand.text($0)) }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one client.")
        @Argument var name: String
        @OptionGroup var output: JSONFlag
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            guard let c = try attempt({ try ctx.admin.client(named: name) }) else { throw CLIError("no client \(name)") }
            if output.json {
                printJSON(ClientCommand.json(c, ctx))
            } else {
                Terminal.out(
                    "name:          \(c.name)\ntoken_ttl:     \(c.tokenTTL)\nthrottle_rate: \(c.throttleRate?.description ?? "none")\n"
                        + "idle_timeout:  \(ClientCommand.idleText(c.idleTimeout))\ncookie:        \(c.cookie ? "yes" : "no")\n"
                        + "created:       \(ctx.format(c.created))")
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a client's TTL, throttle rate, idle timeout or cookie sessions.",
            discussion: "Existing tokens keep their expiry until renewed; a new idle timeout reaches them at once.")
        @Argument var name: String
        @Option(help: "Token lifetime: 86400, 30m, 12h, 7d or never.") var ttl: TokenTTL?
        @Option(help: "Throttle rate N/s|m|h|d, or none.") var throttle: ThrottleSetting?
        @Option(help: ArgumentHelp("Idle timeout: 30m, 2h, 7d, or none.", valueName: "duration")) var idle: IdleSetting?
        @Flag(inversion: .prefixedNo, help: "Whether a login at a cookie location sets the durin_session cookie.")
        var cookie: Bool?
        @OptionGroup var settings: Settings

        func validate() throws {
            guard ttl != nil || throttle != nil || idle != nil || cookie != nil else {
                throw ValidationError("nothing to change: give --ttl, --throttle, --idle and/or --cookie/--no-cookie")
            }
        }

        func run() throws {
            let ctx = try settings.context()
            let stamped = try attempt {
                try ctx.admin.updateClient(
                    name, ttl: ttl, throttle: throttle.map { $0.rate }, idle: idle.map { $0.seconds }, cookie: cookie)
            }
            Terminal.out(
                "updated client \(name)" + (idle != nil ? " (idle timeout now on \(stamped) live token\(stamped == 1 ? "" : "s"))" : ""))
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a client and every token issued to it.")
        @Argument var name: String
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let n = try attempt { try ctx.admin.removeClient(name) }
            Terminal.out("removed client \(name) and \(n) token\(n == 1 ? "" : "s")")
        }
    }
}
