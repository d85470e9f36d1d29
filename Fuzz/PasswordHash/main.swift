// Django hash parsing: PasswordHasher.verify / isSupported / iterations(of:) and Base64.
// Input: "<password>\n<encoded hash>" (no newline: the password is empty).
// Hashes naming more than 1000 iterations are parsed but not verified, so that
// every run stays fast.
import Codecs
import DurinCore

let maximumIterations = 1000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var password = ""
    var encodedBytes = input[...]
    if let newline = input.firstIndex(of: 0x0A) {
        password = String(decoding: input[..<newline], as: UTF8.self)
        encodedBytes = input[(newline + 1)...]
    }
    let encoded = String(decoding: encodedBytes, as: UTF8.self)

    // Base64: whatever decodes re-encodes to something that decodes the same,
    // and any bytes survive an encode/decode round trip.
    if let decoded = Base64.decode(encoded) {
        precondition(Base64.decode(Base64.encode(decoded)) == decoded, "Base64 round trip of decoded bytes")
    }
    precondition(Base64.decode(Base64.encode(input)) == input, "Base64 round trip of the input")

    let supported = PasswordHasher.isSupported(encoded)
    let iterations = PasswordHasher.iterations(of: encoded)
    precondition(supported == (iterations != nil), "isSupported and iterations(of:) disagree")

    let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
    if fields.count > 1, let n = Int(fields[1]), n > maximumIterations { return 0 }
    let matches = PasswordHasher.verify(password, against: encoded)
    precondition(!matches || supported, "an unsupported hash matched")

    // A hash made from the same salt with one round always matches its password.
    if let iterations, iterations <= maximumIterations {
        let salt = String(fields[2])
        let made = PasswordHasher.encode(password: password, salt: salt, iterations: 1)
        precondition(PasswordHasher.verify(password, against: made), "a freshly made hash does not verify")
    }
    return 0
}
