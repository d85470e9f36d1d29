import DurinTestSupport
import Foundation
import Glibc
import XCTest

/// The harness itself: a stack's port is held by the test for the stack's life, so
/// nothing else on the machine can be given it, and nginx still serves on it.
final class StackTests: SharedStackTestCase {
    func testThePortStaysReservedWhileNginxServesOnIt() throws {
        XCTAssertEqual(try http.call("GET", "/api/auth/login/").status, 405, "nginx listens beside the held socket")

        // An ordinary bind to the port is refused...
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = stack.port.bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let error = errno
        XCTAssertEqual(rc, -1)
        XCTAssertEqual(error, EADDRINUSE)

        // ...and no port the kernel hands out is it, whatever the options.
        for _ in 0..<500 {
            let (other, port) = try Processes.reservePort()
            close(other)
            XCTAssertNotEqual(port, stack.port)
        }
    }
}
