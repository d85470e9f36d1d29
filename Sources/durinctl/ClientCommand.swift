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
            + (c.rotateOnRefresh ? "\trotate-on-refresh grace=\(DurationSpec(seconds: c.reuseGrace))" : "")
            + (c.requireOTP ? "\trequire-otp" : "")
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
        @Flag(help: "refresh/ answers a new token; the old one works for --reuse-grace, and its use after that revokes the session.")
        var rotateOnRefresh = false
        @Option(help: ArgumentHelp("How long a replaced token keeps working: 0 to 1h (default 30s).", valueName: "duration"))
        var reuseGrace: GraceSetting?
        @Flag(help: "A login of a user with a second factor must bring its code; a user without one cannot log in here.")
        var requireOtp = false
        @OptionGroup var settings: Settings

        func run() throws {
            let ctx = try settings.context()
            var record = ClientRecord(
                name: name.value, tokenTTL: ttl ?? ctx.config.defaultTokenTTL,
                throttleRate: throttle?.rate, created: WallClock.nowMillis(), idleTimeout: idle?.seconds, cookie: cookie,
                rotateOnRefresh: rotateOnRefresh, reuseGrace: reuseGrace?.seconds ?? ClientRecord.defaultReuseGrace)
            record.requireOTP = requireOtp
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
                        + "rotate:        \(c.rotateOnRefresh ? "yes, reuse grace \(DurationSpec(seconds: c.reuseGrace))" : "no")\n"
                        + "require_otp:   \(c.requireOTP ? "yes" : "no")\n"
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
        @Flag(inversion: .prefixedNo, help: "Whether refresh/ replaces the token (see client add).")
        var rotateOnRefresh: Bool?
        @Option(help: ArgumentHelp("How long a replaced token keeps working: 0 to 1h.", valueName: "duration"))
        var reuseGrace: GraceSetting?
        @Flag(inversion: .prefixedNo, help: "Whether a login must bring the user's second factor.")
        var requireOtp: Bool?
        @OptionGroup var settings: Settings

        func validate() throws {
            guard
                ttl != nil || throttle != nil || idle != nil || cookie != nil || rotateOnRefresh != nil || reuseGrace != nil
                    || requireOtp != nil
            else {
                throw ValidationError(
                    "nothing to change: give --ttl, --throttle, --idle, --[no-]cookie, --[no-]rotate-on-refresh, --reuse-grace and/or --[no-]require-otp"
                )
            }
        }

        func run() throws {
            let ctx = try settings.context()
            let stamped = try attempt {
                try ctx.admin.updateClient(
                    name, ttl: ttl, throttle: throttle.map { $0.rate }, idle: idle.map { $0.seconds }, cookie: cookie,
                    rotate: rotateOnRefresh, reuseGrace: reuseGrace?.seconds,
                    requireOTP: requireOtp)
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
