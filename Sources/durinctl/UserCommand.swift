import ArgumentParser
import Codecs
import DurinCore
import DurinHTTP
import DurinStore

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users.",
        subcommands: [
            Add.self, List.self, Show.self, Set.self, SetPassword.self, Activate.self, Deactivate.self, Remove.self, Totp.self,
        ])

    static func json(_ u: UserRecord) -> JSONValue {
        var members = RecordJSON.user(u)
        for (k, v) in u.profile.sorted(by: { $0.key < $1.key }) { members.append((k, .string(v))) }
        return .object(members)
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user.")
        @Argument(help: "Username (letters, digits and @ . + - _, as Django allows).") var name: String
        @Flag(help: "Read the password from standard input (first line).") var passwordStdin = false
        @Flag(help: "Read an existing Django hash (pbkdf2_sha256$...) from standard input and keep it unchanged.")
        var passwordHash = false
        @Flag(help: "Create the user inactive.") var inactive = false
        @Flag(help: "Let the user sign in to the operator console.") var staff = false
        @Option(name: .customLong("field"), help: "A profile field KEY=VALUE (repeatable), e.g. email=a@b.c.") var fields: [String] = []

        @OptionGroup var settings: Settings
        func run() throws {
            guard Names.isValidUsername(name) else { throw CLIError("invalid username \"\(name)\"") }
            guard !(passwordStdin && passwordHash) else { throw CLIError("give --password-stdin or --password-hash, not both") }
            var profile: [String: String] = [:]
            for f in fields {
                let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, Names.isValidProfileField(kv[0]) else {
                    throw CLIError("--field: expected KEY=VALUE with a lowercase key, got \"\(f)\"")
                }
                profile[kv[0]] = kv[1]
            }
            let ctx = try settings.context()
            let hash: String
            if passwordHash {
                let stored = try readSecretFromStdin()
                guard let n = PasswordHasher.iterations(of: stored) else {
                    throw CLIError("--password-hash: expected pbkdf2_sha256$<iterations>$<salt>$<base64> on standard input")
                }
                guard n <= ctx.config.passwordIterationsMax else {
                    throw CLIError(
                        "--password-hash: \(n) iterations is above DURIN_PASSWORD_ITERATIONS_MAX (\(ctx.config.passwordIterationsMax)): "
                            + "checking it would cost \(n / max(1, ctx.config.passwordIterations)) normal logins; set a new password instead"
                    )
                }
                hash = stored
            } else if passwordStdin {
                hash = PasswordHasher(iterations: ctx.config.passwordIterations).hash(try readSecretFromStdin())
            } else {
                hash = "!"  // Django's unusable password: the user cannot log in until one is set
            }
            try attempt {
                try ctx.admin.addUser(UserRecord(username: name, passwordHash: hash, isActive: !inactive, isStaff: staff, profile: profile))
            }
            Terminal.out("added user \(name)\(hash == "!" ? " (no password yet: set one with set-password)" : "")")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var output: JSONFlag
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let users = try attempt { try ctx.admin.users() }
            if output.json {
                printJSON(.array(users.map(UserCommand.json)))
            } else {
                users.forEach { Terminal.out("\(Terminal.escaped($0.username))\t\($0.isActive ? "active" : "inactive")") }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user (never the password hash).")
        @Argument var name: String
        @OptionGroup var output: JSONFlag
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            guard let u = try attempt({ try ctx.admin.user(named: name) }) else { throw CLIError("no user \(name)") }
            if output.json {
                printJSON(UserCommand.json(u))
            } else {
                Terminal.out("username:  \(Terminal.escaped(u.username))\nis_active: \(u.isActive)\nis_staff:  \(u.isStaff)")
                for (k, v) in u.profile.sorted(by: { $0.key < $1.key }) { Terminal.out("\(Terminal.escaped(k)): \(Terminal.escaped(v))") }
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's flags.")
        @Argument var name: String
        @Flag(inversion: .prefixedNo, help: "Whether the user may sign in to the operator console.") var staff: Bool?
        @Flag(inversion: .prefixedNo, help: "Whether the user's next login must choose a new password (new_password).")
        var requirePasswordChange: Bool?
        @OptionGroup var settings: Settings

        func validate() throws {
            guard staff != nil || requirePasswordChange != nil else {
                throw ValidationError("nothing to change: give --[no-]staff or --[no-]require-password-change")
            }
        }

        func run() throws {
            let ctx = try settings.context()
            if let staff { try attempt { try ctx.admin.setStaff(name, staff) } }
            if let requirePasswordChange { try attempt { try ctx.admin.requirePasswordChange(name, requirePasswordChange) } }
            Terminal.out("updated user \(name)")
        }
    }

    /// A user's second factor (TOTP, RFC 6238: SHA-1, 6 digits, 30 s).
    struct Totp: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "totp", abstract: "Enrol or remove a user's second factor (TOTP).",
            subcommands: [Enroll.self, Remove.self])

        struct Enroll: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Give the user a new TOTP secret and print its otpauth:// URI (once: it is stored sealed, never shown again).",
                discussion: "It replaces any secret the user had. Hand the URI to the user (as a QR code, or typed into the app).")
            @Argument var name: String
            @Flag(help: "Also print the URI as a QR code (half blocks, for a terminal with a dark background).") var qr = false
            @OptionGroup var settings: Settings
            func run() throws {
                let ctx = try settings.context()
                let secret = TOTP.generateSecret()
                guard try attempt({ try ctx.tokens.enrollSecondFactor(user: name, secret: secret, pending: false) }) else {
                    throw CLIError("no user \(name)")
                }
                let uri = TOTP.uri(secret: secret, account: name, issuer: ctx.config.otpIssuer)
                if qr, let code = QRCode(Array(uri.utf8), correction: .medium) {
                    code.terminalLines().forEach { Terminal.out($0) }
                }
                Terminal.out(uri)
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove the user's second factor.")
            @Argument var name: String
            @OptionGroup var settings: Settings
            func run() throws {
                let ctx = try settings.context()
                let had = try attempt { try ctx.tokens.removeSecondFactor(user: name) }
                Terminal.out(had ? "removed the second factor of \(name)" : "\(name) had no second factor")
            }
        }
    }

    struct SetPassword: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-password", abstract: "Set a user's password.")
        @Argument var name: String
        @Flag(help: "Read the password from standard input (first line).") var passwordStdin = false
        @OptionGroup var settings: Settings
        func run() throws {
            guard passwordStdin else { throw CLIError("give --password-stdin (passwords are never taken as arguments)") }
            let ctx = try settings.context()
            let hash = PasswordHasher(iterations: ctx.config.passwordIterations).hash(try readSecretFromStdin())
            try attempt { try ctx.admin.setPasswordHash(name, hash: hash) }
            Terminal.out("password set for \(name)")
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow a user to log in and use their tokens.")
        @Argument var name: String
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            try attempt { try ctx.admin.setActive(name, true) }
            Terminal.out("activated \(name)")
        }
    }

    struct Deactivate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse a user's logins and tokens (tokens are kept).")
        @Argument var name: String
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            try attempt { try ctx.admin.setActive(name, false) }
            Terminal.out("deactivated \(name)")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user and their tokens.")
        @Argument var name: String
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let n = try attempt { try ctx.admin.removeUser(name) }
            Terminal.out("removed user \(name) and \(n) token\(n == 1 ? "" : "s")")
        }
    }
}
