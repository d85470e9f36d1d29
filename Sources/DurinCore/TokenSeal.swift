import Codecs
import Crypto

/// Seals a token for storage so that re-login can hand back the same token (as
/// durin does) while Redis holds nothing usable without the server secret.
///
/// sealed = token XOR HMAC-SHA256(secret, "durin-seal" | digest | counter)...,
/// so each token gets its own pad; unsealing is checked against the digest, which
/// also detects a changed secret.
///
/// The stored form is a kind letter and base64: `h` when the token is lowercase hex
/// of even length (durin's tokens, and this service's), sealed as the bytes the hex
/// spells, half its length; `t` for any other text, sealed as its UTF-8. Layout 1
/// stored the sealed UTF-8 as hex, twice the token's length (`unsealLayout1`).
public struct TokenSeal: Sendable {
    private let secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }

    /// Names the secret without revealing it: 128 bits of an HMAC under it, in hex.
    /// durin-fcgi records it in Redis, and durinctl compares its own before sealing.
    public var fingerprint: String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        mac.update(data: Array("durin-seal fingerprint".utf8))
        return Hex.encode(Array(Array(mac.finalize()).prefix(16)))
    }

    /// An HMAC under the secret, for values a browser must give back unchanged (the
    /// console's CSRF token): `purpose` keeps one use's values from serving another.
    public func mac(purpose: String, _ text: String) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        mac.update(data: Array("durin-mac \(purpose)".utf8) + [0] + Array(text.utf8))
        return Base64.encodeURLSafe(Array(mac.finalize()))
    }

    public func seal(_ token: Token, digest: String) -> String {
        let packed = Self.isPackableHex(token.value) ? Hex.decode(token.value) : nil
        let bytes = packed ?? Array(token.value.utf8)
        let sealed = zip(bytes, pad(count: bytes.count, digest: digest)).map { $0 ^ $1 }
        return (packed != nil ? "h" : "t") + Base64.encode(sealed)
    }

    /// The token, or nil when the sealed value does not open to a token with this digest.
    public func unseal(_ sealed: String, digest: String) -> Token? {
        guard let kind = sealed.first, kind == "h" || kind == "t",
              let bytes = Base64.decode(String(sealed.dropFirst())) else { return nil }
        let opened = zip(bytes, pad(count: bytes.count, digest: digest)).map { $0 ^ $1 }
        let text: String
        if kind == "h" {
            text = Hex.encode(opened)
        } else {
            guard let utf8 = String(validating: opened, as: UTF8.self) else { return nil }
            text = utf8
        }
        let token = Token(value: text)
        return constantTimeEquals(Array(token.digest.utf8), Array(digest.utf8)) ? token : nil
    }

    /// A token sealed by layout 1: hex of the sealed UTF-8, under the whole SHA-256.
    public func unsealLayout1(_ sealed: String, sha256Hex: String) -> Token? {
        guard let bytes = Hex.decode(sealed) else { return nil }
        let opened = zip(bytes, pad(count: bytes.count, digest: sha256Hex)).map { $0 ^ $1 }
        guard let text = String(validating: opened, as: UTF8.self) else { return nil }
        let token = Token(value: text)
        return constantTimeEquals(Array(Token.sha256Hex(of: text).utf8), Array(sha256Hex.utf8)) ? token : nil
    }

    /// Layout 1's sealed form, for tests of the migration.
    func sealLayout1(_ token: Token, sha256Hex: String) -> String {
        let bytes = Array(token.value.utf8)
        return Hex.encode(zip(bytes, pad(count: bytes.count, digest: sha256Hex)).map { $0 ^ $1 })
    }

    private static func isPackableHex(_ text: String) -> Bool {
        let utf8 = text.utf8
        return !utf8.isEmpty && utf8.count % 2 == 0 && utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private func pad(count: Int, digest: String) -> [UInt8] {
        var out: [UInt8] = []
        var counter: UInt8 = 0
        while out.count < count {
            var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
            mac.update(data: Array("durin-seal".utf8) + Array(digest.utf8) + [counter])
            out.append(contentsOf: Array(mac.finalize()))
            counter &+= 1
        }
        return Array(out.prefix(count))
    }
}
