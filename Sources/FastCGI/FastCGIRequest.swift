import CFastCGI
import Glibc

/// libfcgi initialisation, once per process, before any worker accepts.
package enum FastCGI {
    package static func initialize() { _ = FCGX_Init() }
}

/// One worker thread's FastCGI request slot, reused for every request it serves.
///
/// Not Sendable: created and used on a single thread (a login's moves to a hasher
/// thread with its request, and nothing else touches it). Everything handed out is
/// copied, because libfcgi frees params and buffers at the next request.
///
/// libfcgi does not accept here: ConnectionIntake does, and hands over connections
/// whose request is already buffered. libfcgi's `FCGX_Accept_r` reads the request
/// of a connection it is given in `ipcFd` (it accepts only when that is -1); with
/// no listening socket of its own (-1) it can never block in accept. Two of its
/// fields are set around each request, the only ones this type touches:
/// - `keepConnection`: set before `FCGX_Accept_r`, which first finishes the previous
///   request and would otherwise close the connection just handed over. The read
///   then sets it to the peer's FCGI_KEEP_CONN flag (kept in `peerKeeps`), and
///   `finish` sets it again, so that libfcgi never closes a connection itself unless
///   a write failed: the intake decides whether it is kept or closed.
/// - `detached`: libfcgi otherwise closes with a "lingering close" (shutdown, then
///   up to 2 s waiting for the peer to close first), which a peer that never closes
///   turns into a stalled worker. The request is read whole before the answer, so
///   nothing is left unread: a plain close loses nothing.
package final class FastCGIRequest {
    // libfcgi's streams keep a pointer to the request, so it needs a stable address.
    private let raw: UnsafeMutablePointer<FCGX_Request>
    /// The params read by position (`param(at:)`), found in one pass over a
    /// request's params at `begin`: libfcgi's own lookup scans them all for each name.
    private let index: ParamIndex
    /// The connection of the current request, from `begin` until the intake's `finish`.
    package private(set) var connection: ConnectionIntake.Connection?
    /// The current request's peer asked for its connection to stay open (FCGI_KEEP_CONN).
    package private(set) var peerKeeps = false

    /// - Parameter names: the params this slot's reader asks for by position
    ///   (`param(at:)`): `names[i]` is position `i`.
    package init(indexing names: ParamIndex.Names) {
        raw = .allocate(capacity: 1)
        raw.initialize(to: FCGX_Request())
        FCGX_InitRequest(raw, -1, 0)
        index = ParamIndex(names)
    }

    deinit {
        // Never closes a connection: the intake owns every descriptor (a login's
        // request is released by its hasher after `finish`, its connection kept).
        FCGX_Free(raw, 0)
        raw.deallocate()
    }

    /// Reads the params of the connection's request (already buffered, so this
    /// does not wait). False when they are not a valid request: libfcgi has then
    /// closed the connection.
    package func begin(_ connection: ConnectionIntake.Connection) -> Bool {
        if connection.bodyStreams {
            let left = (connection.deadline - ContinuousClock.now) / .milliseconds(1)
            durin_set_io_timeout(connection.fd, max(50, Int(left.rounded(.up))))
        }
        raw.pointee.ipcFd = connection.fd
        raw.pointee.keepConnection = 1
        raw.pointee.detached = 1
        guard FCGX_Accept_r(raw) >= 0 else { return false }
        self.connection = connection
        peerKeeps = raw.pointee.keepConnection != 0
        index.read(raw.pointee.envp)
        return true
    }

    /// Completes the current request (its answer and END_REQUEST are written) and
    /// leaves its connection open for the intake, which keeps or closes it. With
    /// `keep`, the rest of the request's body is read first, so that the next
    /// request starts at a record boundary. False when libfcgi closed the connection
    /// (a write failed: the peer is gone).
    func finish(keep: Bool) -> Bool {
        if keep { drain() }
        raw.pointee.keepConnection = 1
        raw.pointee.detached = 1
        FCGX_Finish_r(raw)
        connection = nil
        let open = raw.pointee.ipcFd >= 0
        // The descriptor goes back to the intake: nothing here may close it later.
        raw.pointee.ipcFd = -1
        return open
    }

    /// A FastCGI parameter of the current request (`PATH_INFO`, `HTTP_AUTHORIZATION`).
    /// Bytes that are not UTF-8 are kept as they are, in `paramBytes`.
    package func param(_ name: String) -> String? {
        FCGX_GetParam(name, raw.pointee.envp).map { String(cString: $0) }
    }

    /// Whether a param is exactly `value`: compared in place, nothing copied.
    package func param(_ name: String, is value: String) -> Bool {
        guard let p = FCGX_GetParam(name, raw.pointee.envp) else { return false }
        return strcmp(p, value) == 0
    }

    /// A switch param (nginx's `set $durin_cache on;`): `on`, `1`, `true` or `yes`,
    /// in any case; compared in place.
    package func paramIsOn(_ name: String) -> Bool {
        guard let p = FCGX_GetParam(name, raw.pointee.envp) else { return false }
        return strcasecmp(p, "on") == 0 || strcmp(p, "1") == 0 || strcasecmp(p, "true") == 0 || strcasecmp(p, "yes") == 0
    }

    /// The param at `position` of the names this slot indexes (`init(indexing:)`).
    package func param(at position: Int) -> String? {
        index.values[position].map { String(cString: $0) }
    }

    package func param(at position: Int, is value: String) -> Bool {
        guard let p = index.values[position] else { return false }
        return strcmp(p, value) == 0
    }

    package func paramIsOn(at position: Int) -> Bool {
        guard let p = index.values[position] else { return false }
        return strcasecmp(p, "on") == 0 || strcmp(p, "1") == 0 || strcasecmp(p, "true") == 0 || strcasecmp(p, "yes") == 0
    }

    package func paramBytes(at position: Int) -> [UInt8]? {
        guard let value = index.values[position] else { return nil }
        return Array(UnsafeRawBufferPointer(start: value, count: strlen(value)))
    }

    package func paramBytes(_ name: String) -> [UInt8]? {
        guard let value = FCGX_GetParam(name, raw.pointee.envp) else { return nil }
        return Array(UnsafeRawBufferPointer(start: value, count: strlen(value)))
    }

    /// Whether any param's name starts with `prefix`: every one is looked at, so a
    /// name sent twice (nginx 1.22 passes each header line on its own) is seen
    /// whatever its first value.
    package func hasParam(prefixed prefix: String) -> Bool {
        guard var entry = raw.pointee.envp else { return false }
        return prefix.utf8.withContiguousStorageIfAvailable { wanted in
            while let pair = entry.pointee {
                // Each entry is "NAME=value"; a shorter one differs at its NUL.
                if memcmp(pair, wanted.baseAddress!, wanted.count) == 0 { return true }
                entry += 1
            }
            return false
        } ?? false
    }

    package enum BodyResult {
        case body([UInt8])
        /// Longer than the limit; the rest of the stream was read and discarded.
        case tooLarge
        /// The peer sent fewer bytes than CONTENT_LENGTH announced.
        case truncated
    }

    /// Reads the request body: exactly `contentLength` bytes, refusing more than `limit`.
    package func readBody(contentLength: Int, limit: Int) -> BodyResult {
        guard contentLength > 0 else { return .body([]) }
        if contentLength > limit {
            drain()
            return .tooLarge
        }
        var body = [UInt8](repeating: 0, count: contentLength)
        var received = 0
        while received < contentLength {
            let n = body.withUnsafeMutableBytes { buf in
                FCGX_GetStr(
                    buf.baseAddress!.advanced(by: received).assumingMemoryBound(to: CChar.self),
                    Int32(contentLength - received), raw.pointee.in)
            }
            if n <= 0 { return .truncated }
            received += Int(n)
        }
        return .body(body)
    }

    /// Reads the rest of stdin so libfcgi and nginx see a cleanly consumed request.
    /// Once the stream has ended (a GET's empty body, already buffered) this reads
    /// nothing from the socket.
    private func drain() {
        guard FCGX_GetChar(raw.pointee.in) != EOF else { return }
        var scratch = [CChar](repeating: 0, count: 16384)
        while scratch.withUnsafeMutableBufferPointer({ FCGX_GetStr($0.baseAddress!, 16384, raw.pointee.in) }) > 0 {}
    }

    /// Writes a complete CGI response (status line, headers, body) in one call,
    /// built in one buffer.
    package func respond(status: Int, reason: String, headers: [(String, String)], body: [UInt8]) {
        var out: [UInt8] = []
        out.reserveCapacity(64 + headers.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 4 } + body.count)
        let crlf: [UInt8] = [0x0D, 0x0A]
        let separator: [UInt8] = [0x3A, 0x20]
        out.append(contentsOf: "Status: ".utf8)
        out.append(contentsOf: String(status).utf8)
        out.append(0x20)
        out.append(contentsOf: reason.utf8)
        out.append(contentsOf: crlf)
        for (name, value) in headers {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: separator)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: crlf)
        }
        if !body.isEmpty {
            out.append(contentsOf: "Content-Length: ".utf8)
            out.append(contentsOf: String(body.count).utf8)
            out.append(contentsOf: crlf)
        }
        out.append(contentsOf: crlf)
        out.append(contentsOf: body)
        out.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                _ = FCGX_PutStr(chars.baseAddress!, Int32(chars.count), raw.pointee.out)
            }
        }
    }
}

/// Where each indexed param's value is in the current request's params, found in
/// one pass: an entry's name is compared only with the indexed names of its length.
package final class ParamIndex {
    /// The names a slot indexes, in position order, prepared once for every slot.
    package struct Names: Sendable {
        let names: [[UInt8]]
        /// By name length: the positions of the names that long.
        let byLength: [[Int]]

        package init(_ names: [String]) {
            self.names = names.map { Array($0.utf8) }
            var byLength = [[Int]](repeating: [], count: (self.names.map(\.count).max() ?? 0) + 1)
            for (position, name) in self.names.enumerated() { byLength[name.count].append(position) }
            self.byLength = byLength
        }
    }

    private let names: Names
    /// Each indexed name's value in the current request (nil: not sent).
    fileprivate var values: [UnsafePointer<CChar>?]

    init(_ names: Names) {
        self.names = names
        values = [UnsafePointer<CChar>?](repeating: nil, count: names.names.count)
    }

    /// Indexes a request's params (`envp`, "NAME=value" strings). A name sent twice
    /// keeps its first value, as libfcgi's own lookup does.
    fileprivate func read(_ envp: FCGX_ParamArray?) {
        values.withUnsafeMutableBufferPointer { values in
            values.update(repeating: nil)
            guard var entry = envp, !values.isEmpty else { return }
            while let pair = entry.pointee {
                entry += 1
                guard let equals = strchr(pair, Int32(UInt8(ascii: "="))) else { continue }
                let length = pair.distance(to: equals)
                guard length < names.byLength.count else { continue }
                for position in names.byLength[length] where values[position] == nil {
                    let matches = names.names[position].withUnsafeBufferPointer { memcmp(pair, $0.baseAddress!, length) == 0 }
                    if matches {
                        values[position] = UnsafePointer(equals + 1)
                        break
                    }
                }
            }
        }
    }
}
