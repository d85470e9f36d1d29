// durin-fcgi: the FastCGI responder. All settings come from the environment
// (docs/configuration.md); systemd reads them from /etc/durin/durin.env.
import DurinConsole
import DurinServer
import Foundation

// Every route it answers: the HTTP API, and the operator console where nginx mounts it.
let router = Router(groups: [API.routes, Console.routes])
exit(Server.run(environment: ProcessInfo.processInfo.environment, router: router))
