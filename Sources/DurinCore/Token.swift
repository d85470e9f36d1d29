import Codecs
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
        return Token(value: String(Hex.encode(bytes).prefix(length)))
    }

    /// SHA-256 of the token as lowercase hex: the token's Redis key suffix.
    public var digest: String { Self.digest(of: value) }

    public static func digest(of token: String) -> String {
        Hex.encode(Array(SHA256.hash(data: Array(token.utf8))))
    }
}
