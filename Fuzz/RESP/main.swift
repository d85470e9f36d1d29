// RESP replies: hiredis's reader and durin's decoding of its reply trees.
// The first input byte sets how many bytes are fed at a time (0: all at once); the
// rest is what the server sent. Feeding in pieces must give the same replies.
import RedisClient

/// hiredis (0.14, and every later version) allocates 8 bytes per element as soon
/// as it reads a `*<count>` header, before any element arrives: `*2147483647\r\n`
/// is a 16 GiB calloc. Only the Redis server durin logs in to can send that, and
/// that server is trusted (it holds every token), so inputs announcing more
/// elements than this are skipped instead of being reported as out-of-memory.
/// (Fuzz/regressions/RESP/huge-multibulk-count keeps the case.)
let maximumElements = 1 << 20

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = input.first else { return 0 }
    let bytes = Array(input.dropFirst())
    if announcesHugeArray(bytes) { return 0 }
    let whole = RESP.parse(bytes)
    if first != 0 {
        let pieces = RESP.parse(bytes, chunkSize: Int(first))
        precondition(pieces == whole, "replies depend on how the bytes arrive")
    }
    for reply in whole ?? [] { visit(reply) }
    return 0
}

/// Everything callers read from a reply.
func visit(_ reply: RedisReply) {
    _ = reply.string
    _ = reply.int
    _ = reply.fieldMap
    for item in reply.array ?? [] { visit(item) }
}

/// Whether a `*`, an optional sign and digits anywhere in `bytes` name a count
/// above `maximumElements` (hiredis reads the count with the same grammar).
func announcesHugeArray(_ bytes: [UInt8]) -> Bool {
    var i = 0
    while i < bytes.count {
        defer { i += 1 }
        guard bytes[i] == UInt8(ascii: "*") else { continue }
        var j = i + 1
        if j < bytes.count, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") { j += 1 }
        var count = 0
        while j < bytes.count, (0x30...0x39).contains(bytes[j]) {
            count = min(count * 10 + Int(bytes[j] - 0x30), Int(Int32.max) + 1)
            j += 1
        }
        if count > maximumElements { return true }
    }
    return false
}
