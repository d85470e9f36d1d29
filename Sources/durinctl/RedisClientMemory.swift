import Foundation

/// The two settings that keep other Redis clients from making Redis refuse durin's
/// writes (durin-redis.conf): a cap on each normal client's unread replies, and one
/// on all clients' memory together (maxmemory-clients), from which durin's own
/// connections are exempt. `durinctl check` reads them with CONFIG GET where its
/// user may, else from the Redis configuration files on this host.
struct RedisClientMemory: Equatable {
    /// `client-output-buffer-limit normal`'s hard limit as written ("0": none).
    var normalHardLimit: String?
    /// `maxmemory-clients` as written ("0": none).
    var maxmemoryClients: String?

    /// What is missing, in words; empty when both caps are in place.
    var missing: [String] {
        var out: [String] = []
        if normalHardLimit.map(Self.isZero) ?? true {
            out.append("normal clients' unread replies are unlimited (client-output-buffer-limit normal 32mb 8mb 10)")
        }
        if maxmemoryClients.map(Self.isZero) ?? true {
            out.append("all clients together are unlimited (maxmemory-clients 5%)")
        }
        return out
    }

    static func isZero(_ value: String) -> Bool {
        let digits = value.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "kmgb%"))
        return Double(digits).map { $0 == 0 } ?? false
    }

    /// From CONFIG GET's values: `client-output-buffer-limit` (all classes in one
    /// string, `normal 0 0 0 replica ...`) and `maxmemory-clients`.
    init(outputBufferLimit: String?, maxmemoryClients: String?) {
        if let words = outputBufferLimit?.split(separator: " ").map(String.init), let i = words.firstIndex(of: "normal"),
            i + 1 < words.count
        {
            normalHardLimit = words[i + 1]
        }
        self.maxmemoryClients = maxmemoryClients
    }

    /// From a redis.conf and what it includes (the last setting wins, as in Redis);
    /// nil when the file cannot be read.
    init?(configFile path: String) {
        var found = RedisClientMemory(outputBufferLimit: nil, maxmemoryClients: nil)
        guard found.read(path, depth: 0) else { return nil }
        self = found
    }

    private mutating func read(_ path: String, depth: Int) -> Bool {
        guard depth < 8, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map {
                String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            guard let directive = words.first?.lowercased(), !directive.hasPrefix("#") else { continue }
            switch directive {
            case "include" where words.count == 2: _ = read(words[1], depth: depth + 1)
            case "client-output-buffer-limit" where words.count >= 5 && words[1].lowercased() == "normal": normalHardLimit = words[2]
            case "maxmemory-clients" where words.count == 2: maxmemoryClients = words[1]
            default: break
            }
        }
        return true
    }
}
