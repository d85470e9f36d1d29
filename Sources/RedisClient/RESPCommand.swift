/// A command in Redis's wire form (RESP: an array of bulk strings), laid out in one
/// buffer. The hot path sends its commands this way (`redisAppendFormattedCommand`):
/// hiredis's own formatting and the argument vectors it needs cost a check more than
/// the rest of its Redis call.
package enum RESPCommand {
    package static func encode(_ args: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(args.reduce(16) { $0 + $1.utf8.count + 16 })
        header(args.count, into: &out)
        for var arg in args {
            // Copied from the string's own storage at once, not byte by byte.
            arg.withUTF8 { bytes in
                bulkHeader(bytes.count, into: &out)
                out.append(contentsOf: bytes)
            }
            out.append(0x0D)
            out.append(0x0A)
        }
        return out
    }

    package static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(args.reduce(16) { $0 + $1.count + 16 })
        header(args.count, into: &out)
        for arg in args {
            bulkHeader(arg.count, into: &out)
            out.append(contentsOf: arg)
            out.append(0x0D)
            out.append(0x0A)
        }
        return out
    }

    private static func header(_ count: Int, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "*"))
        decimal(count, into: &out)
    }

    private static func bulkHeader(_ length: Int, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "$"))
        decimal(length, into: &out)
    }

    /// `n` (not negative) in decimal, then CRLF: written in place, most significant
    /// digit first, without a buffer of its own (every key's length has two digits).
    static func decimal(_ n: Int, into out: inout [UInt8]) {
        var divisor = 1
        while divisor <= n / 10 { divisor *= 10 }
        var v = n
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(v / divisor))
            v %= divisor
            divisor /= 10
        }
        out.append(0x0D)
        out.append(0x0A)
    }
}
