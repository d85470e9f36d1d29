package import DurinCore

/// The keys that sign identity assertions, shared by every responder of a site
/// through Redis (`KeySpace.assertionKeys`, a hash of kid -> `created retired
/// sealed`), each private key sealed under the service's secret (`TokenSeal.sealKey`):
/// Redis alone, or a copy of it, holds no usable key.
extension TokenStore {
    /// Every stored key that opens under this service's secret, oldest first. One
    /// that does not open (sealed under another secret) is left out.
    package func assertionKeys() throws(StoreError) -> [AssertionKey] {
        let seal = try sealingKey()
        let stored = try connection.call(["HGETALL", keys.assertionKeys]).fieldMap
        return stored.compactMap { kid, value -> AssertionKey? in
            let parts = value.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3, let created = EpochMillis(parts[0]),
                let bytes = seal.openKey(parts[2], label: kid),
                let key = AssertionKey(privateBytes: bytes, created: created, retired: EpochMillis(parts[1])),
                key.kid == kid
            else { return nil }
            return key
        }.sorted { ($0.created, $0.kid) < ($1.created, $1.kid) }
    }

    /// Stores a key (a new one, or one now retired).
    package func saveAssertionKey(_ key: AssertionKey) throws(StoreError) {
        let sealed = try sealingKey().sealKey(key.storedBytes, label: key.kid)
        let value = "\(key.created) \(key.retired.map(String.init) ?? "-") \(sealed)"
        _ = try connection.call(["HSET", keys.assertionKeys, key.kid, value])
    }

    package func removeAssertionKey(kid: String) throws(StoreError) {
        _ = try connection.call(["HDEL", keys.assertionKeys, kid])
    }
}
