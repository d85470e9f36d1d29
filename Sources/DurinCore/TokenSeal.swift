import Codecs
import Crypto

/// Seals a token for storage so that re-login can hand back the same token (as
/// durin does) while Redis holds nothing usable without the server secret.
///
/// sealed = token XOR HMAC-SHA256(secret, "durin-seal" | digest | counter)...,
/// so each token gets its own pad; unsealing is checked against the digest, which
/// also detects a changed secret.
public struct TokenSeal: Sendable {
    private let secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }

    public func seal(_ token: Token, digest: String) -> String {
        let bytes = Array(token.value.utf8)
        return Hex.encode(zip(bytes, pad(count: bytes.count, digest: digest)).map { $0 ^ $1 })
    }

    /// The token, or nil when the sealed value does not open to a token with this digest.
    public func unseal(_ sealed: String, digest: String) -> Token? {
        guard let bytes = Hex.decode(sealed) else { return nil }
        let opened = zip(bytes, pad(count: bytes.count, digest: digest)).map { $0 ^ $1 }
        guard let text = String(validating: opened, as: UTF8.self) else { return nil }
        let token = Token(value: text)
        return constantTimeEquals(Array(token.digest.utf8), Array(digest.utf8)) ? token : nil
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
