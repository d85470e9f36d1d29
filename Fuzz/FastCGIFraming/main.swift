// RequestFraming on arbitrary bytes, fed whole and in pieces: the intake's view of
// a FastCGI stream must not depend on how the bytes arrive (first byte: the piece size).
import FastCGI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let piece = Int(bytes[0]) + 1
    let input = Array(bytes.dropFirst())
    // A small window and params limit, so that every outcome is reachable.
    var whole = RequestFraming(paramsLimit: 200, window: 600)
    let once = whole.feed(input)
    var split = RequestFraming(paramsLimit: 200, window: 600)
    var i = 0
    while i < input.count {
        split.feed(Array(input[i..<min(i + piece, input.count)]))
        i += piece
    }
    precondition(split.progress == once, "\(once) whole, \(split.progress) in pieces of \(piece)")
    precondition(split.consumed == whole.consumed, "consumed \(whole.consumed) whole, \(split.consumed) in pieces")
    precondition(whole.consumed <= input.count)
    if case .complete = once { precondition(whole.consumed >= 8 * 4, "a request has at least four records") }
    return 0
}
