import Codecs
import Crypto
import _CryptoExtras

/// Django's PBKDF2 password hashes: `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`,
/// so users imported from a Django database log in unchanged.
package struct PasswordHasher: Sendable {
    package let iterations: Int

    package init(iterations: Int) { self.iterations = iterations }

    /// A new hash of `password` with a random 22-character salt (Django's default length).
    package func hash(_ password: String) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var rng = SystemRandomNumberGenerator()
        let salt = String((0..<22).map { _ in alphabet.randomElement(using: &rng)! })
        return Self.encode(password: password, salt: salt, iterations: iterations)
    }

    package static func encode(password: String, salt: String, iterations: Int) -> String {
        let derived = derive(password: password, salt: salt, iterations: iterations, algorithm: .sha256)
        return "pbkdf2_sha256$\(iterations)$\(salt)$\(Base64.encode(derived))"
    }

    /// Checks a password against a stored hash, with the iterations the hash names.
    /// Unusable hashes (Django's `!` prefix) and unknown formats never match.
    package static func verify(_ password: String, against encoded: String) -> Bool {
        guard let parsed = ParsedHash(encoded) else { return false }
        let derived = derive(password: password, salt: parsed.salt, iterations: parsed.iterations, algorithm: parsed.algorithm)
        return constantTimeEquals(derived, parsed.hash)
    }

    /// Spends the time of `iterations` PBKDF2-SHA256 rounds on nothing: evens out the
    /// cost of checking a hash made with fewer rounds than the configured count.
    package static func spend(iterations: Int) {
        _ = derive(password: "", salt: "durin-harden-runtime", iterations: iterations, algorithm: .sha256)
    }

    /// True when `encoded` is a hash this service can verify (for `--password-hash`).
    package static func isSupported(_ encoded: String) -> Bool { ParsedHash(encoded) != nil }

    /// The iterations a stored hash uses, if it is one this service can verify.
    package static func iterations(of encoded: String) -> Int? { ParsedHash(encoded)?.iterations }

    private struct ParsedHash {
        let algorithm: KDF.Insecure.PBKDF2.HashFunction
        let iterations: Int
        let salt: String
        let hash: [UInt8]

        init?(_ encoded: String) {
            let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
            guard parts.count == 4, let n = Int(parts[1]), n > 0, n <= 100_000_000, !parts[2].isEmpty,
                let hash = Base64.decode(String(parts[3])), !hash.isEmpty
            else { return nil }
            switch parts[0] {
            case "pbkdf2_sha256": algorithm = .sha256
            case "pbkdf2_sha1": algorithm = .insecureSHA1
            default: return nil
            }
            iterations = n
            salt = String(parts[2])
            self.hash = hash
        }
    }

    private static func derive(
        password: String, salt: String, iterations: Int,
        algorithm: KDF.Insecure.PBKDF2.HashFunction
    ) -> [UInt8] {
        let length = algorithm == .insecureSHA1 ? 20 : 32
        guard
            let key = try? KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: Array(salt.utf8), using: algorithm,
                outputByteCount: length, unsafeUncheckedRounds: iterations)
        else { return [] }
        return key.withUnsafeBytes { Array($0) }
    }
}
