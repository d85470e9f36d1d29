import Crypto

/// A bearer token: random bytes from the system CSPRNG, as lowercase hex.
///
/// Only `digest` is ever stored or logged by reference; the token itself is shown
/// once, to the client that logs in.
public struct Token: Sendable, Equatable {
    public let value: String

    public init(value: String) { self.value = value }

    /// A fresh token of `length` hex characters (DURIN_TOKEN_CHARACTER_LENGTH).
    public static func generate(length: Int) -> Token {
        var rng = SystemRandomNumberGenerator()  // getrandom(2): the kernel CSPRNG
        let byteCount = (length + 1) / 2
        let bytes = (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        return Token(value: String(hexEncoding(bytes).prefix(length)))
    }

    /// SHA-256 of the token as lowercase hex: the token's Redis key suffix.
    public var digest: String { Self.digest(of: value) }

    public static func digest(of token: String) -> String {
        hexEncoding(Array(SHA256.hash(data: Array(token.utf8))))
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

public func hexEncoding(_ bytes: [UInt8]) -> String {
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(hexDigits[Int(b >> 4)])
        out.append(hexDigits[Int(b & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Compares two byte strings in time that depends only on their lengths.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<a.count { diff |= a[i] ^ b[i] }
    return diff == 0
}
