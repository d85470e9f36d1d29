/// Whether a `DURIN_SECRET_KEY` is fit to seal tokens with.
///
/// Anyone who knows the secret can unseal every live token from a copy of Redis, so
/// durin-fcgi and durinctl refuse a weak one at start: a sample's placeholder, less
/// than 32 bytes in hex or base64 form, or a trivially repeated value.
package enum SecretStrength {
    /// Placeholders this project has shipped in sample files.
    static let placeholders: Set<String> = ["change-me-to-the-output-of-openssl-rand-hex-32", "generate-a-secret"]
    /// The base64 form of 32 bytes; their hex form (64) is longer still.
    package static let minimumLength = 44
    package static let minimumDistinctCharacters = 8

    /// Why `secret` is too weak, or nil. Never includes the secret itself.
    package static func weakness(of secret: String) -> String? {
        let fix = "generate one with: openssl rand -hex 32"
        if placeholders.contains(secret) || secret.lowercased().contains("change-me") {
            return "is a sample placeholder; \(fix)"
        }
        if secret.utf8.count < minimumLength {
            return "is shorter than 32 bytes in hex (64 characters) or base64 (44); \(fix)"
        }
        if Set(secret.utf8).count < minimumDistinctCharacters {
            return "has fewer than \(minimumDistinctCharacters) distinct characters; \(fix)"
        }
        return nil
    }
}
