import DurinTestSupport
import Foundation
import XCTest

/// Trusted issuance needs an issuer key as well as the trusted location: neither a
/// caller that reaches the location nor a process that reaches the FastCGI socket
/// gets a token for any user by position alone.
final class IssuerTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addClient("mobile")
        try stack.addUser("ivy", password: "ivy-pw")
    }

    func issue(_ client: String, key: String?) throws -> HTTPResult {
        try http.call(
            "POST", "/internal/durin/issue/", json: #"{"username":"ivy","client":"\#(client)"}"#,
            extra: key.map { [("Authorization", "Issuer \($0)")] } ?? [])
    }

    func testKeysGateIssuanceByClientAndCanBeRevoked() throws {
        let any = try stack.durinctl(["issuer", "add", "portal"]).checked().trimmingCharacters(in: .whitespacesAndNewlines)
        let mobileOnly = try stack.durinctl(["issuer", "add", "app", "--clients", "mobile"]).checked()
            .trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(any.count, 64)

        var r = try issue("web", key: nil)
        XCTAssertEqual(r.status, 401, "the location alone is not enough")
        XCTAssertEqual(r.detail, "Authentication credentials were not provided.")
        r = try issue("web", key: String(repeating: "0", count: 64))
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.detail, "Invalid token.")
        XCTAssertEqual(
            try http.call(
                "POST", "/internal/durin/issue/", json: #"{"username":"ivy","client":"web"}"#,
                extra: [("Authorization", "Token \(any)")]
            ).status, 401, "another scheme is no key")

        XCTAssertEqual(try issue("web", key: any).status, 200)
        XCTAssertEqual(try issue("mobile", key: mobileOnly).status, 200)
        r = try issue("web", key: mobileOnly)
        XCTAssertEqual(r.status, 403, "a key for another client")
        XCTAssertEqual(r.detail, "You do not have permission to perform this action.")

        // Only digests are stored; the list names issuers, never keys.
        let stored = try stack.redisCLI("--scan", "--pattern", "durin:issuer*")
        XCTAssertFalse(stored.contains(any))
        let list = try stack.durinctl(["issuer", "list"]).checked()
        XCTAssertTrue(list.contains("app\tclients=mobile") && list.contains("portal\tclients=any"), list)
        XCTAssertFalse(list.contains(any))
        XCTAssertEqual(try stack.durinctl(["issuer", "add", "portal"]).status, 1, "names are unique")

        // Events name the issuer.
        let events = try stack.durinctl(["events", "--last", "20", "--json"]).checked()
        XCTAssertTrue(events.contains(#""issuer":"app""#), events)

        try stack.durinctl(["issuer", "remove", "app"]).checked()
        XCTAssertEqual(try issue("mobile", key: mobileOnly).status, 401, "a removed key stops at once")
    }

    /// Any process that can connect to durin's FastCGI socket (a PHP-FPM pool in group
    /// www-data, say) can send DURIN_TRUSTED=1 itself: without a key it gets 401.
    func testTrustedParamOnTheRawSocketStillNeedsAKey() throws {
        let key = try stack.durinctl(["issuer", "add", "raw"]).checked().trimmingCharacters(in: .whitespacesAndNewlines)
        func raw(_ authorization: String?) throws -> String {
            // A minimal FastCGI client: BEGIN_REQUEST, PARAMS, empty STDIN; prints STDOUT.
            let client = #"""
                import os, socket, struct, sys
                def rec(t, body): return struct.pack("!BBHHBx", 1, t, 1, len(body), 0) + body
                def nv(k, v):
                    k, v = k.encode(), v.encode()
                    return bytes([len(k)]) + (bytes([len(v)]) if len(v) < 128 else struct.pack("!I", len(v) | 0x80000000)) + k + v
                body = b'{"username":"ivy","client":"web"}'
                params = {"REQUEST_METHOD": "POST", "PATH_INFO": "/issue/", "SCRIPT_NAME": "/x", "CONTENT_TYPE": "application/json",
                          "CONTENT_LENGTH": str(len(body)), "DURIN_TRUSTED": "1", "DURIN_PROXY_KEY": os.environ["PROXY_KEY"]}
                if len(sys.argv) > 2: params["HTTP_AUTHORIZATION"] = sys.argv[2]
                p = b"".join(nv(k, v) for k, v in params.items())
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                s.sendall(rec(1, struct.pack("!HB5x", 1, 0)) + rec(4, p) + rec(4, b"") + rec(5, body) + rec(5, b""))
                out = b""
                while True:
                    h = s.recv(8, socket.MSG_WAITALL)
                    if len(h) < 8: break
                    _, t, _, n, pad = struct.unpack("!BBHHBx", h)
                    data = s.recv(n + pad, socket.MSG_WAITALL)[:n] if n + pad else b""
                    if t == 6: out += data
                    if t == 3: break
                print(out.decode())
                """#
            var args = ["/usr/bin/python3", "-c", client, "\(stack.state)/durin.sock"]
            if let authorization { args.append(authorization) }
            // The proxy key as nginx would send it: the socket alone proves nothing, and
            // even nginx's key does not make issuance trusted without an issuer key.
            let env = stack.environment.merging(["PROXY_KEY": stack.stackEnv["DURIN_PROXY_KEY"] ?? ""]) { $1 }
            return try Processes.run(args, environment: env).checked()
        }
        let without = try raw(nil)
        XCTAssertTrue(without.hasPrefix("Status: 401"), without)
        XCTAssertFalse(without.contains("\"token\""), without)
        let with = try raw("Issuer \(key)")
        XCTAssertTrue(with.hasPrefix("Status: 200"), with)
    }
}
