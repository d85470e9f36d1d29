import Codecs
import Crypto

/// A bearer token: random bytes from the system CSPRNG, as lowercase hex.
///
/// Only `digest` is ever stored or logged by reference; the token itself is shown
/// once, to the client that logs in.
package struct Token: Sendable, Equatable {
    package let value: String

    package init(value: String) { self.value = value }

    /// A fresh token of `length` hex characters (DURIN_TOKEN_CHARACTER_LENGTH).
    package static func generate(length: Int) -> Token {
        var rng = SystemRandomNumberGenerator()  // getrandom(2): the kernel CSPRNG
        let byteCount = (length + 1) / 2
        let bytes = (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        return Token(value: String(Hex.encode(bytes).prefix(length)))
    }

    /// A fresh token whose digest begins with `digestPrefix`: on a Redis Cluster the
    /// digest's first characters are the hash tag of the token's key, and must be its
    /// user's. Tokens are drawn until one fits: 64^n tries on average for n
    /// characters (4,096 for 2, a few milliseconds), and the token stays uniform
    /// among those that fit, a known 12 bits of its hash that give nothing away.
    package static func generate(length: Int, digestPrefix: String) -> Token {
        while true {
            let token = generate(length: length)
            if token.digest.hasPrefix(digestPrefix) { return token }
        }
    }

    /// The token's name in Redis (its key suffix): the first 120 bits of its SHA-256
    /// in base64url, 20 characters.
    ///
    /// 120 bits are as out of reach as the whole hash for anyone holding no token:
    /// finding a token for a given digest is a preimage search of 2^120 steps. The
    /// short form saves memory twice per token (its key, and its user's index entry):
    /// 20 characters fit the allocator's 32-byte class where 64 hex digits take 80.
    package var digest: String { Self.digest(of: value) }

    package static func digest(of token: String) -> String {
        // Hashed over the string's own bytes: every check computes one.
        var token = token
        let hash = token.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return hash.withUnsafeBytes { Base64.encodeURLSafe(Array($0.prefix(15))) }
    }

    /// The digest from a whole SHA-256 (layout 1 kept that, in hex).
    package static func digest(sha256: [UInt8]) -> String {
        Base64.encodeURLSafe(Array(sha256.prefix(15)))
    }

    /// The whole SHA-256 as 64 hex digits: the digest of layout 1, and of issuer keys.
    package static func sha256Hex(of text: String) -> String {
        Hex.encode(SHA256.hash(data: Array(text.utf8)))
    }
}
