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
        return hexEncoding(zip(bytes, pad(count: bytes.count, digest: digest)).map { $0 ^ $1 })
    }

    /// The token, or nil when the sealed value does not open to a token with this digest.
    public func unseal(_ sealed: String, digest: String) -> Token? {
        guard let bytes = hexDecoding(sealed) else { return nil }
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

public func hexDecoding(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 2)
    var i = 0
    while i < chars.count {
        guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}
