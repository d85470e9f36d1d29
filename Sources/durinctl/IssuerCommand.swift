import ArgumentParser
import DurinCore
import DurinHTTP
import DurinStore

/// Keys for trusted issuance (`POST issue/`): an application that authenticates its
/// users itself sends `Authorization: Issuer <key>` to the trusted location.
struct IssuerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issuer",
        abstract: "Manage issuer keys: trusted issuance (issue/), introspection (introspect/), revocation (revoke/) and users (users/).",
        subcommands: [Add.self, Set.self, List.self, Remove.self])

    static let mayHelp = ArgumentHelp(
        "What the key may do, comma-separated: issue, introspect, revoke, users (users/: users who are not staff), staff (with users: staff users too)."
    )

    static func rights(_ text: String) throws -> Swift.Set<IssuerRight> {
        guard let rights = IssuerRight.parse(text), !rights.isEmpty else {
            throw CLIError("--may: expected rights among \(IssuerRight.allCases.map(\.rawValue).joined(separator: ",")), got \"\(text)\"")
        }
        guard !rights.contains(.staff) || rights.contains(.users) else { throw CLIError("--may: staff goes with users") }
        return rights
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an issuer and print its key (once: only its digest is stored).")
        @Argument(help: "Issuer name (letters, digits, . _ - @ +; at most 64).") var name: String
        @Option(help: "The clients whose tokens it may issue, introspect and revoke, comma-separated (default: any).") var clients: String?
        @Option(help: IssuerCommand.mayHelp) var may = "issue,introspect,revoke"

        @OptionGroup var settings: Settings
        func run() throws {
            guard Names.isValidClientName(name) else { throw CLIError("invalid issuer name \"\(name)\"") }
            let list = (clients ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for c in list where !Names.isValidClientName(c) { throw CLIError("--clients: invalid client name \"\(c)\"") }
            let rights = try IssuerCommand.rights(may)
            let ctx = try settings.context()
            let key = try attempt { try ctx.admin.addIssuer(name, clients: list, rights: rights) }
            Terminal.out(key.value)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List issuers (never their keys).")
        @OptionGroup var output: JSONFlag
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let issuers = try attempt { try ctx.admin.issuers() }
            if output.json {
                printJSON(
                    .array(
                        issuers.map {
                            [
                                "name": .string($0.name), "clients": .array($0.clients.map { .string($0) }),
                                "may": .array($0.rights.sorted().map { .string($0.rawValue) }),
                                "created": .string(ctx.format($0.created)),
                            ]
                        }))
            } else {
                issuers.forEach {
                    Terminal.out(
                        "\($0.name)\tclients=\($0.clients.isEmpty ? "any" : $0.clients.joined(separator: ","))\tmay=\(IssuerRight.text($0.rights))"
                    )
                }
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give an issuer exactly these rights (its key is unchanged).")
        @Argument var name: String
        @Option(help: IssuerCommand.mayHelp) var may: String
        @OptionGroup var settings: Settings
        func run() throws {
            let rights = try IssuerCommand.rights(may)
            let ctx = try settings.context()
            try attempt { try ctx.admin.setIssuerRights(name, rights) }
            Terminal.out("issuer \(name) may \(IssuerRight.text(rights))")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an issuer: its key stops working at once.")
        @Argument var name: String
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            try attempt { try ctx.admin.removeIssuer(name) }
            Terminal.out("removed issuer \(name)")
        }
    }
}
