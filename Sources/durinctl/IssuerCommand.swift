import ArgumentParser
import DurinCore
import DurinHTTP
import DurinStore

/// Keys for trusted issuance (`POST issue/`): an application that authenticates its
/// users itself sends `Authorization: Issuer <key>` to the trusted location.
struct IssuerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issuer",
        abstract: "Manage issuer keys: trusted issuance (issue/), introspection (introspect/) and revocation (revoke/).",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an issuer and print its key (once: only its digest is stored).")
        @Argument(help: "Issuer name (letters, digits, . _ - @ +; at most 64).") var name: String
        @Option(help: "The clients whose tokens it may issue, introspect and revoke, comma-separated (default: any).") var clients: String?

        @OptionGroup var settings: Settings
        func run() throws {
            guard Names.isValidClientName(name) else { throw CLIError("invalid issuer name \"\(name)\"") }
            let list = (clients ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for c in list where !Names.isValidClientName(c) { throw CLIError("--clients: invalid client name \"\(c)\"") }
            let ctx = try settings.context()
            let key = try attempt { try ctx.admin.addIssuer(name, clients: list) }
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
                                "created": .string(ctx.format($0.created)),
                            ]
                        }))
            } else {
                issuers.forEach { Terminal.out("\($0.name)\tclients=\($0.clients.isEmpty ? "any" : $0.clients.joined(separator: ","))") }
            }
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
