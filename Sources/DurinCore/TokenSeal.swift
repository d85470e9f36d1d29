import Codecs
import Crypto
import Foundation
import _CryptoExtras

/// Seals a token for storage so that re-login can hand back the same token (as
/// durin does) while Redis holds nothing usable without the server secret.
///
/// A vetted AEAD, AES-256-GCM-SIV (swift-crypto), under a key derived from the
/// secret with HKDF-SHA256. The token's digest is the associated data, so a sealed
/// copy opens only under the key it was made for, and the nonce is derived from the
/// digest too: nothing but the ciphertext and its tag is stored. GCM-SIV is built
/// for such nonces: sealing the same token twice gives the same value, and no two
/// tokens share a nonce short of a 96-bit collision, which even then reveals only
/// whether two sealed tokens are equal. Opening checks the tag and then the digest.
///
/// The stored form is base64 of ciphertext || tag. A token of lowercase hex of even
/// length (durin's tokens, and this service's) is sealed as the bytes the hex
/// spells, and stored without a kind letter: 32 + 16 bytes make 64 characters, and a
/// hash field of more than 64 bytes would turn every token hash from Redis's compact
/// listpack into a hash table (twice the memory; hash-max-listpack-value). Base64 is
/// always a multiple of 4 long, so that form is told from the lettered ones, each
/// one longer: `u` for any other text, sealed as its UTF-8.
///
/// Before layout 3 a token was sealed with a construction of this service's own,
/// token XOR HMAC-SHA256(secret, "durin-seal" | digest | counter)..., stored as `h`
/// (hex tokens) or `t` (text), a letter and base64. Those are still opened
/// (`isLegacy`), so that login
/// works while the layout migration rewrites each one in the new form; layout 1's
/// hex form likewise (`unsealLayout1`).
package struct TokenSeal: Sendable {
    private let secret: [UInt8]
    /// The AEAD key's bytes (SymmetricKey is not Sendable; one is made per use).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    package init(secret: [UInt8]) {
        self.secret = secret
        keyBytes = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), info: Array("durin-seal aes-256-gcm-siv".utf8),
            outputByteCount: 32
        ).withUnsafeBytes { Array($0) }
    }

    /// Names the secret without revealing it: 128 bits of an HMAC under it, in hex.
    /// durin-fcgi records it in Redis, and durinctl compares its own before sealing.
    package var fingerprint: String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        mac.update(data: Array("durin-seal fingerprint".utf8))
        return Hex.encode(Array(Array(mac.finalize()).prefix(16)))
    }

    /// An HMAC under the secret, for values a browser must give back unchanged (the
    /// console's CSRF token): `purpose` keeps one use's values from serving another.
    package func mac(purpose: String, _ text: String) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        mac.update(data: Array("durin-mac \(purpose)".utf8) + [0] + Array(text.utf8))
        return Base64.encodeURLSafe(Array(mac.finalize()))
    }

    package func seal(_ token: Token, digest: String) -> String {
        let packed = Self.isPackableHex(token.value) ? Hex.decode(token.value) : nil
        let bytes = packed ?? Array(token.value.utf8)
        // Sealing fails only for a key or nonce of the wrong size, which these are not.
        let box = try! AES.GCM._SIV.seal(bytes, using: key, nonce: nonce(digest), authenticating: Array(digest.utf8))
        return (packed != nil ? "" : "u") + Base64.encode(Array(box.ciphertext) + Array(box.tag))
    }

    /// The token, or nil when the sealed value does not open to a token with this
    /// digest (another secret, another token's copy, a changed byte).
    package func unseal(_ sealed: String, digest: String) -> Token? {
        let kind: Character? = sealed.utf8.count % 4 == 0 ? nil : sealed.first
        guard let bytes = Base64.decode(String(kind == nil ? Substring(sealed) : sealed.dropFirst())) else { return nil }
        let opened: [UInt8]
        switch kind {
        case nil, "u":
            guard bytes.count >= 16,
                let box = try? AES.GCM._SIV.SealedBox(nonce: nonce(digest), ciphertext: bytes.dropLast(16), tag: bytes.suffix(16)),
                let plain = try? AES.GCM._SIV.open(box, using: key, authenticating: Array(digest.utf8))
            else { return nil }
            opened = Array(plain)
        case "h", "t":
            opened = zip(bytes, pad(count: bytes.count, digest: digest)).map { $0 ^ $1 }
        default:
            return nil
        }
        let text: String
        if kind == nil || kind == "h" {
            text = Hex.encode(opened)
        } else {
            guard let utf8 = String(validating: opened, as: UTF8.self) else { return nil }
            text = utf8
        }
        let token = Token(value: text)
        return constantTimeEquals(Array(token.digest.utf8), Array(digest.utf8)) ? token : nil
    }

    /// A signing key's private bytes for storage: AES-256-GCM under a key of its own
    /// derived from the secret, a random nonce, and `label` (the key's id) as the
    /// associated data, so a sealed key opens only as the key it was stored as.
    /// Base64 of nonce || ciphertext || tag.
    package func sealKey(_ bytes: [UInt8], label: String) -> String {
        let box = try! AES.GCM.seal(bytes, using: signingKeySeal, authenticating: Array(label.utf8))
        return Base64.encode(Array(box.combined!))
    }

    /// The key sealed by `sealKey`, or nil (another secret, another label, a changed byte).
    package func openKey(_ sealed: String, label: String) -> [UInt8]? {
        guard let bytes = Base64.decode(sealed), let box = try? AES.GCM.SealedBox(combined: bytes),
            let plain = try? AES.GCM.open(box, using: signingKeySeal, authenticating: Array(label.utf8))
        else { return nil }
        return Array(plain)
    }

    private var signingKeySeal: SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), info: Array("durin-seal signing-key aes-256-gcm".utf8), outputByteCount: 32)
    }

    /// Whether a stored value is in the form before layout 3 (the migration rewrites it).
    package static func isLegacy(_ sealed: String) -> Bool {
        sealed.utf8.count % 4 == 1 && (sealed.first == "h" || sealed.first == "t")
    }

    /// The form before layout 3, for tests of the migration.
    package func sealLegacy(_ token: Token, digest: String) -> String {
        let packed = Self.isPackableHex(token.value) ? Hex.decode(token.value) : nil
        let bytes = packed ?? Array(token.value.utf8)
        return (packed != nil ? "h" : "t") + Base64.encode(zip(bytes, pad(count: bytes.count, digest: digest)).map { $0 ^ $1 })
    }

    /// 96 bits of an HMAC of the digest under the secret: one nonce per token.
    private func nonce(_ digest: String) -> AES.GCM._SIV.Nonce {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        mac.update(data: Array("durin-seal nonce".utf8) + [0] + Array(digest.utf8))
        return try! AES.GCM._SIV.Nonce(data: Array(mac.finalize()).prefix(12))
    }

    /// A token sealed by layout 1: hex of the sealed UTF-8, under the whole SHA-256.
    package func unsealLayout1(_ sealed: String, sha256Hex: String) -> Token? {
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
