/// A QR code (ISO/IEC 18004, model 2) of some bytes, in byte mode: what an
/// authenticator app scans to take a second factor's `otpauth://` URI. Drawn here,
/// so that neither the console nor durinctl loads anything from anywhere to show
/// one. The construction follows Project Nayuki's reference generator: the
/// smallest version that holds the bytes at the error-correction level, Reed–Solomon
/// blocks interleaved, and of the eight masks the one with the lowest penalty.
package struct QRCode: Sendable, Equatable {
    /// Modules by row, top to bottom; true is dark. No quiet zone: a renderer adds
    /// four light modules around it.
    package let modules: [[Bool]]
    package let version: Int

    package var size: Int { modules.count }

    /// How much of the code can be damaged and still read: L 7 %, M 15 %.
    package enum ErrorCorrection: Int, Sendable {
        case low = 0
        case medium = 1

        /// The two bits the format information carries.
        var formatBits: Int { self == .low ? 1 : 0 }
    }

    /// nil when the bytes do not fit in version 40.
    package init?(_ data: [UInt8], correction: ErrorCorrection = .medium) {
        var chosen: Int?
        for version in 1...40 {
            let countBits = version <= 9 ? 8 : 16
            guard data.count < 1 << countBits else { continue }
            if 4 + countBits + data.count * 8 <= Self.dataCodewords(version, correction) * 8 {
                chosen = version
                break
            }
        }
        guard let version = chosen else { return nil }
        var builder = Builder(version: version, correction: correction)
        builder.drawFunctionPatterns()
        builder.drawCodewords(Self.interleaved(Self.codewords(data, version: version, correction), version, correction))
        builder.chooseMask()
        modules = builder.modules
        self.version = version
    }

    // MARK: Codewords

    /// Mode, count, the bytes, the terminator and padding: the data codewords.
    static func codewords(_ data: [UInt8], version: Int, _ correction: ErrorCorrection) -> [UInt8] {
        var bits: [Bool] = []
        func append(_ value: Int, _ count: Int) { for i in (0..<count).reversed() { bits.append((value >> i) & 1 == 1) } }
        append(0b0100, 4)
        append(data.count, version <= 9 ? 8 : 16)
        for byte in data { append(Int(byte), 8) }
        let capacity = dataCodewords(version, correction) * 8
        append(0, min(4, capacity - bits.count))
        append(0, (8 - bits.count % 8) % 8)
        var pad: UInt8 = 0xEC
        while bits.count < capacity {
            append(Int(pad), 8)
            pad ^= 0xEC ^ 0x11
        }
        return stride(from: 0, to: bits.count, by: 8).map { start in
            bits[start..<start + 8].reduce(UInt8(0)) { $0 << 1 | ($1 ? 1 : 0) }
        }
    }

    /// The data split into blocks, each with its error-correction codewords, then
    /// interleaved as the code lays them out.
    static func interleaved(_ data: [UInt8], _ version: Int, _ correction: ErrorCorrection) -> [UInt8] {
        let blockCount = Int(errorCorrectionBlocks[correction.rawValue][version])
        let eccLength = Int(eccCodewordsPerBlock[correction.rawValue][version])
        let raw = rawDataModules(version) / 8
        let shortBlocks = blockCount - raw % blockCount
        let shortLength = raw / blockCount
        let divisor = reedSolomonDivisor(degree: eccLength)
        var blocks: [[UInt8]] = []
        var k = 0
        for i in 0..<blockCount {
            var block = Array(data[k..<k + shortLength - eccLength + (i < shortBlocks ? 0 : 1)])
            k += block.count
            let ecc = reedSolomonRemainder(block, divisor)
            if i < shortBlocks { block.append(0) }
            blocks.append(block + ecc)
        }
        var result: [UInt8] = []
        for i in 0..<blocks[0].count {
            for (j, block) in blocks.enumerated() where i != shortLength - eccLength || j >= shortBlocks {
                result.append(block[i])
            }
        }
        return result
    }

    static func reedSolomonDivisor(degree: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: degree)
        result[degree - 1] = 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            for j in 0..<degree {
                result[j] = multiply(result[j], root)
                if j + 1 < degree { result[j] ^= result[j + 1] }
            }
            root = multiply(root, 0x02)
        }
        return result
    }

    static func reedSolomonRemainder(_ data: [UInt8], _ divisor: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: divisor.count)
        for byte in data {
            let factor = byte ^ result.removeFirst()
            result.append(0)
            for i in result.indices { result[i] ^= multiply(divisor[i], factor) }
        }
        return result
    }

    /// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1.
    static func multiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var z = 0
        for i in (0..<8).reversed() {
            z = (z << 1) ^ ((z >> 7) * 0x11D)
            z ^= ((Int(y) >> i) & 1) * Int(x)
        }
        return UInt8(z)
    }

    /// Modules left for data and error correction once the function patterns are drawn.
    static func rawDataModules(_ version: Int) -> Int {
        var result = (16 * version + 128) * version + 64
        if version >= 2 {
            let alignments = version / 7 + 2
            result -= (25 * alignments - 10) * alignments - 55
            if version >= 7 { result -= 36 }
        }
        return result
    }

    static func dataCodewords(_ version: Int, _ correction: ErrorCorrection) -> Int {
        rawDataModules(version) / 8 - Int(eccCodewordsPerBlock[correction.rawValue][version])
            * Int(errorCorrectionBlocks[correction.rawValue][version])
    }

    /// By level (L, M), then version (index 0 unused).
    static let eccCodewordsPerBlock: [[Int8]] = [
        [
            -1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30,
            30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
        ],
        [
            -1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28,
            28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        ],
    ]
    static let errorCorrectionBlocks: [[Int8]] = [
        [
            -1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19,
            20, 21, 22, 24, 25,
        ],
        [
            -1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35,
            37, 38, 40, 43, 45, 47, 49,
        ],
    ]
}

extension QRCode {
    /// The grid while it is drawn: the modules, and which of them belong to the
    /// function patterns (neither data nor masked).
    struct Builder {
        let version: Int
        let correction: ErrorCorrection
        let size: Int
        var modules: [[Bool]]
        var isFunction: [[Bool]]

        init(version: Int, correction: ErrorCorrection) {
            self.version = version
            self.correction = correction
            size = version * 4 + 17
            modules = Array(repeating: Array(repeating: false, count: size), count: size)
            isFunction = modules
        }

        mutating func set(_ x: Int, _ y: Int, _ dark: Bool) {
            modules[y][x] = dark
            isFunction[y][x] = true
        }

        mutating func drawFunctionPatterns() {
            for i in 0..<size {
                set(6, i, i % 2 == 0)
                set(i, 6, i % 2 == 0)
            }
            for (x, y) in [(3, 3), (size - 4, 3), (3, size - 4)] {
                for dy in -4...4 {
                    for dx in -4...4 where (0..<size).contains(x + dx) && (0..<size).contains(y + dy) {
                        let distance = max(abs(dx), abs(dy))
                        set(x + dx, y + dy, distance != 2 && distance != 4)
                    }
                }
            }
            let positions = alignmentPositions()
            for (i, x) in positions.enumerated() {
                for (j, y) in positions.enumerated() {
                    let last = positions.count - 1
                    if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) { continue }
                    for dy in -2...2 { for dx in -2...2 { set(x + dx, y + dy, max(abs(dx), abs(dy)) != 1) } }
                }
            }
            drawFormatBits(mask: 0)
            drawVersion()
        }

        func alignmentPositions() -> [Int] {
            guard version > 1 else { return [] }
            let count = version / 7 + 2
            let step = (version * 8 + count * 3 + 5) / (count * 4 - 4) * 2
            var result = [6]
            var position = size - 7
            var tail: [Int] = []
            for _ in 0..<(count - 1) {
                tail.insert(position, at: 0)
                position -= step
            }
            result += tail
            return result
        }

        mutating func drawFormatBits(mask: Int) {
            let data = correction.formatBits << 3 | mask
            var remainder = data
            for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
            let bits = (data << 10 | remainder) ^ 0x5412
            func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
            for i in 0...5 { set(8, i, bit(i)) }
            set(8, 7, bit(6))
            set(8, 8, bit(7))
            set(7, 8, bit(8))
            for i in 9..<15 { set(14 - i, 8, bit(i)) }
            for i in 0..<8 { set(size - 1 - i, 8, bit(i)) }
            for i in 8..<15 { set(8, size - 15 + i, bit(i)) }
            set(8, size - 8, true)
        }

        mutating func drawVersion() {
            guard version >= 7 else { return }
            var remainder = version
            for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
            let bits = version << 12 | remainder
            for i in 0..<18 {
                let dark = (bits >> i) & 1 == 1
                let a = size - 11 + i % 3
                let b = i / 3
                set(a, b, dark)
                set(b, a, dark)
            }
        }

        /// The zigzag from the bottom right, two columns at a time, skipping the
        /// vertical timing pattern.
        mutating func drawCodewords(_ data: [UInt8]) {
            var i = 0
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 }
                for vertical in 0..<size {
                    for j in 0..<2 {
                        let x = right - j
                        let upward = (right + 1) & 2 == 0
                        let y = upward ? size - 1 - vertical : vertical
                        if !isFunction[y][x] && i < data.count * 8 {
                            modules[y][x] = (data[i >> 3] >> (7 - (i & 7))) & 1 == 1
                            i += 1
                        }
                    }
                }
                right -= 2
            }
        }

        mutating func applyMask(_ mask: Int) {
            for y in 0..<size {
                for x in 0..<size where !isFunction[y][x] {
                    let invert: Bool
                    switch mask {
                    case 0: invert = (x + y) % 2 == 0
                    case 1: invert = y % 2 == 0
                    case 2: invert = x % 3 == 0
                    case 3: invert = (x + y) % 3 == 0
                    case 4: invert = (x / 3 + y / 2) % 2 == 0
                    case 5: invert = x * y % 2 + x * y % 3 == 0
                    case 6: invert = (x * y % 2 + x * y % 3) % 2 == 0
                    default: invert = ((x + y) % 2 + x * y % 3) % 2 == 0
                    }
                    if invert { modules[y][x].toggle() }
                }
            }
        }

        /// Tries the eight masks and keeps the one of the lowest penalty.
        mutating func chooseMask() {
            var best = 0
            var lowest = Int.max
            for mask in 0..<8 {
                applyMask(mask)
                drawFormatBits(mask: mask)
                let score = penalty()
                if score < lowest {
                    best = mask
                    lowest = score
                }
                applyMask(mask)
            }
            applyMask(best)
            drawFormatBits(mask: best)
        }

        func penalty() -> Int {
            var result = 0
            for transposed in [false, true] {
                for a in 0..<size {
                    var color = false
                    var run = 0
                    var history = [Int](repeating: 0, count: 7)
                    for b in 0..<size {
                        let dark = transposed ? modules[b][a] : modules[a][b]
                        if dark == color {
                            run += 1
                            if run == 5 { result += 3 } else if run > 5 { result += 1 }
                        } else {
                            addHistory(run, &history)
                            if !color { result += finderLike(history) * 40 }
                            color = dark
                            run = 1
                        }
                    }
                    if color {
                        addHistory(run, &history)
                        run = 0
                    }
                    addHistory(run + size, &history)
                    result += finderLike(history) * 40
                }
            }
            for y in 0..<(size - 1) {
                for x in 0..<(size - 1) {
                    let c = modules[y][x]
                    if c == modules[y][x + 1] && c == modules[y + 1][x] && c == modules[y + 1][x + 1] { result += 3 }
                }
            }
            let dark = modules.reduce(0) { $0 + $1.filter { $0 }.count }
            let total = size * size
            result += ((abs(dark * 20 - total * 10) + total - 1) / total - 1) * 10
            return result
        }

        func addHistory(_ length: Int, _ history: inout [Int]) {
            var length = length
            if history[0] == 0 { length += size }
            history.removeLast()
            history.insert(length, at: 0)
        }

        func finderLike(_ h: [Int]) -> Int {
            let n = h[1]
            let core = n > 0 && h[2] == n && h[3] == n * 3 && h[4] == n && h[5] == n
            return (core && h[0] >= n * 4 && h[6] >= n ? 1 : 0) + (core && h[6] >= n * 4 && h[0] >= n ? 1 : 0)
        }
    }
}

extension QRCode {
    /// For a terminal: two rows of modules per line in half blocks, dark on the
    /// terminal's light, with the four-module quiet zone (inverted if `lightOnDark`).
    package func terminalLines(lightOnDark: Bool = true) -> [String] {
        let quiet = 4
        let span = size + 2 * quiet
        func dark(_ x: Int, _ y: Int) -> Bool {
            let (mx, my) = (x - quiet, y - quiet)
            guard (0..<size).contains(mx), (0..<size).contains(my) else { return false }
            return modules[my][mx]
        }
        var lines: [String] = []
        for y in stride(from: 0, to: span, by: 2) {
            var line = ""
            for x in 0..<span {
                // A block character draws ink: on a dark terminal, ink is the code's light.
                let top = dark(x, y) != lightOnDark
                let bottom = (y + 1 < span ? dark(x, y + 1) : false) != lightOnDark
                switch (top, bottom) {
                case (true, true): line += "\u{2588}"
                case (true, false): line += "\u{2580}"
                case (false, true): line += "\u{2584}"
                case (false, false): line += " "
                }
            }
            lines.append(line)
        }
        return lines
    }

    /// Netpbm's plain bitmap (P1), `scale` pixels a module, with the quiet zone:
    /// what image tools and decoders read.
    package func pbm(scale: Int = 4) -> String {
        let quiet = 4
        let span = (size + 2 * quiet) * scale
        var out = "P1\n\(span) \(span)\n"
        for py in 0..<span {
            var row: [String] = []
            for px in 0..<span {
                let (mx, my) = (px / scale - quiet, py / scale - quiet)
                let dark = (0..<size).contains(mx) && (0..<size).contains(my) && modules[my][mx]
                row.append(dark ? "1" : "0")
            }
            out += row.joined(separator: " ") + "\n"
        }
        return out
    }
}
