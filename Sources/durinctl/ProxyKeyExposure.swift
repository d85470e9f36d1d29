import Foundation

/// Whether a process other than nginx could read the proxy key from nginx's
/// workers: it can when it runs as their user and the kernel lets a process read
/// the memory of another of the same user (no Yama, or `kernel.yama.ptrace_scope`
/// 0; nginx's workers are dumpable). Read from /proc.
struct ProxyKeyExposure: Equatable {
    /// nginx's workers' user (nginx.conf's `user`), and its uid.
    var workerUser: String
    var workerUID: UInt32
    /// Yama's ptrace_scope; nil: no Yama (same-user tracing is allowed).
    var ptraceScope: Int?
    /// Other processes running as that user: (pid, name).
    var others: [(pid: Int, name: String)]

    static func == (a: Self, b: Self) -> Bool {
        a.workerUser == b.workerUser && a.workerUID == b.workerUID && a.ptraceScope == b.ptraceScope
            && a.others.map(\.pid) == b.others.map(\.pid)
    }

    /// Same-user processes may read each other's memory.
    var sameUserTracing: Bool { (ptraceScope ?? 0) == 0 }

    /// The finding in words: nil when no other process could read the key.
    var problem: String? {
        guard sameUserTracing, !others.isEmpty else { return nil }
        let names = others.prefix(5).map { "\($0.name) (pid \($0.pid))" }.joined(separator: ", ")
        let kernel = ptraceScope == nil ? "the kernel has no Yama" : "kernel.yama.ptrace_scope is 0"
        return "\(others.count) process(es) other than nginx run as nginx's worker user \(workerUser) (\(names)), and \(kernel): "
            + "any of them can read the proxy key from an nginx worker's memory and speak to durin as nginx. Run them under "
            + "users of their own, or set kernel.yama.ptrace_scope = 1 in /etc/sysctl.d/ (docs/security.md)"
    }

    /// nginx.conf's `user` directive (its first word), else Debian's default.
    static func workerUser(nginxConf: String) -> String {
        let text = (try? String(contentsOfFile: nginxConf, encoding: .utf8)) ?? ""
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ";" })
            if words.count >= 2, words[0] == "user" { return String(words[1]) }
        }
        return "www-data"
    }

    /// Reads /proc (or `proc`, for tests) for the processes of `user` other than nginx.
    static func read(user: String, proc: String = "/proc") -> ProxyKeyExposure? {
        // getpwnam reads a C string: a name with a NUL would be looked up cut short.
        guard !user.utf8.contains(0), let entry = getpwnam(user) else { return nil }
        let uid = entry.pointee.pw_uid
        let scope = (try? String(contentsOfFile: "\(proc)/sys/kernel/yama/ptrace_scope", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        var others: [(pid: Int, name: String)] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: proc)) ?? [] {
            guard let pid = Int(name), let status = try? String(contentsOfFile: "\(proc)/\(name)/status", encoding: .utf8) else { continue }
            var command = ""
            var uids: [UInt32] = []
            for line in status.split(separator: "\n") {
                if line.hasPrefix("Name:") { command = line.dropFirst(5).trimmingCharacters(in: .whitespaces) }
                if line.hasPrefix("Uid:") { uids = line.dropFirst(4).split(whereSeparator: \.isWhitespace).compactMap { UInt32($0) } }
            }
            // Real or effective uid: either lets it trace a process of that user.
            guard uids.prefix(2).contains(uid), command != "nginx" else { continue }
            others.append((pid, command))
        }
        return ProxyKeyExposure(workerUser: user, workerUID: uid, ptraceScope: scope, others: others.sorted { $0.pid < $1.pid })
    }
}
