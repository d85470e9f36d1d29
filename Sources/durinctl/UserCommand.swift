import ArgumentParser
import DurinCore
import DurinHTTP
import DurinStore

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users.",
        subcommands: [Add.self, List.self, Show.self, SetPassword.self, Activate.self, Deactivate.self, Remove.self])

    static func json(_ u: UserRecord) -> JSONValue {
        var members: [(String, JSONValue)] = [("username", .string(u.username)), ("is_active", .bool(u.isActive))]
        for (k, v) in u.profile.sorted(by: { $0.key < $1.key }) { members.append((k, .string(v))) }
        return .object(members)
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user.")
        @Argument(help: "Username (letters, digits and @ . + - _, as Django allows).") var name: String
        @Flag(help: "Read the password from standard input (first line).") var passwordStdin = false
        @Option(help: "Import an existing Django hash (pbkdf2_sha256$...) unchanged.") var passwordHash: String?
        @Flag(help: "Create the user inactive.") var inactive = false
        @Option(name: .customLong("field"), help: "A profile field KEY=VALUE (repeatable), e.g. email=a@b.c.") var fields: [String] = []

        func run() throws {
            guard Names.isValidUsername(name) else { throw CLIError("invalid username \"\(name)\"") }
            guard !(passwordStdin && passwordHash != nil) else { throw CLIError("give --password-stdin or --password-hash, not both") }
            var profile: [String: String] = [:]
            for f in fields {
                let kv = f.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, Names.isValidProfileField(kv[0]) else { throw CLIError("--field: expected KEY=VALUE with a lowercase key, got \"\(f)\"") }
                profile[kv[0]] = kv[1]
            }
            let ctx = try Context.load()
            let hash: String
            if let passwordHash {
                guard PasswordHasher.isSupported(passwordHash) else { throw CLIError("--password-hash: expected pbkdf2_sha256$<iterations>$<salt>$<base64>") }
                hash = passwordHash
            } else if passwordStdin {
                hash = PasswordHasher(iterations: ctx.config.passwordIterations).hash(try readSecretFromStdin())
            } else {
                hash = "!"  // Django's unusable password: the user cannot log in until one is set
            }
            try attempt { try ctx.admin.addUser(UserRecord(username: name, passwordHash: hash, isActive: !inactive, profile: profile)) }
            print("added user \(name)\(hash == "!" ? " (no password yet: set one with set-password)" : "")")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var output: JSONFlag
        func run() throws {
            let ctx = try Context.load()
            let users = try attempt { try ctx.admin.users() }
            if output.json { printJSON(.array(users.map(UserCommand.json))) } else {
                users.forEach { print("\($0.username)\t\($0.isActive ? "active" : "inactive")") }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user (never the password hash).")
        @Argument var name: String
        @OptionGroup var output: JSONFlag
        func run() throws {
            let ctx = try Context.load()
            guard let u = try attempt({ try ctx.admin.user(named: name) }) else { throw CLIError("no user \(name)") }
            if output.json { printJSON(UserCommand.json(u)) } else {
                print("username:  \(u.username)\nis_active: \(u.isActive)")
                for (k, v) in u.profile.sorted(by: { $0.key < $1.key }) { print("\(k): \(v)") }
            }
        }
    }

    struct SetPassword: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-password", abstract: "Set a user's password.")
        @Argument var name: String
        @Flag(help: "Read the password from standard input (first line).") var passwordStdin = false
        func run() throws {
            guard passwordStdin else { throw CLIError("give --password-stdin (passwords are never taken as arguments)") }
            let ctx = try Context.load()
            let hash = PasswordHasher(iterations: ctx.config.passwordIterations).hash(try readSecretFromStdin())
            try attempt { try ctx.admin.setPasswordHash(name, hash: hash) }
            print("password set for \(name)")
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow a user to log in and use their tokens.")
        @Argument var name: String
        func run() throws {
            let ctx = try Context.load()
            try attempt { try ctx.admin.setActive(name, true) }
            print("activated \(name)")
        }
    }

    struct Deactivate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse a user's logins and tokens (tokens are kept).")
        @Argument var name: String
        func run() throws {
            let ctx = try Context.load()
            try attempt { try ctx.admin.setActive(name, false) }
            print("deactivated \(name)")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user and their tokens.")
        @Argument var name: String
        func run() throws {
            let ctx = try Context.load()
            let n = try attempt { try ctx.admin.removeUser(name) }
            print("removed user \(name) and \(n) token\(n == 1 ? "" : "s")")
        }
    }
}
