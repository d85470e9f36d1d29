// durin-fcgi: the FastCGI responder. All settings come from the environment
// (docs/configuration.md); systemd reads them from /etc/durin/durin.env.
import DurinServer
import Foundation

exit(Server.run(environment: ProcessInfo.processInfo.environment))
