import Codecs
import Crypto

/// RFC 6238 time-based one-time passwords as authenticator apps expect them:
/// HMAC-SHA-1, 6 digits, 30-second steps. A code is accepted for the step before
/// and after the current one (RFC 6238 §5.2: a phone's clock drifts, and a code
/// typed at the end of its step arrives in the next), and each step's code only
/// once: the store keeps the last step used (`TokenStore.useTOTPStep`).
package enum TOTP {
    package static let digits = 6
    package static let period: Int64 = 30
    /// The secret's size: 160 bits, SHA-1's block of key material (RFC 4226 §4).
    package static let secretBytes = 20

    package static func generateSecret() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<secretBytes).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }

    /// The step a time (epoch milliseconds) falls in.
    package static func step(at millis: EpochMillis) -> Int64 { millis / 1000 / period }

    /// RFC 4226's HOTP of `counter`, `digits` long (RFC 6238's vectors use 8).
    package static func code(secret: [UInt8], counter: Int64, digits: Int = TOTP.digits) -> String {
        var message = [UInt8](repeating: 0, count: 8)
        var c = UInt64(bitPattern: counter)
        for i in (0..<8).reversed() {
            message[i] = UInt8(c & 0xFF)
            c >>= 8
        }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let text = String(binary % modulus)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The step whose code `sent` is, among the current one and its neighbours;
    /// nil for none. Every candidate is compared, in constant time.
    package static func matchingStep(_ sent: String, secret: [UInt8], at millis: EpochMillis) -> Int64? {
        guard sent.utf8.count == digits, sent.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        let now = step(at: millis)
        var found: Int64?
        for candidate in [now - 1, now, now + 1] {
            if constantTimeEquals(Array(code(secret: secret, counter: candidate).utf8), Array(sent.utf8)) { found = candidate }
        }
        return found
    }

    /// The `otpauth://` URI an authenticator app scans or takes as text (Google's
    /// Key Uri Format): `issuer:account`, the base32 secret, and the parameters.
    package static func uri(secret: [UInt8], account: String, issuer: String) -> String {
        let label = PercentEncoding.encode(issuer) + ":" + PercentEncoding.encode(account)
        return "otpauth://totp/\(label)?secret=\(Base32.encode(secret))&issuer=\(PercentEncoding.encode(issuer))"
            + "&algorithm=SHA1&digits=\(digits)&period=\(period)"
    }
}
