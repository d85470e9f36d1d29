// ClientAddress.group on arbitrary REMOTE_ADDR text: a group is always one of three
// shapes, short, named from the parsed address, never from a text a NUL cut short,
// and every IPv6 address of a /64 falls in that /64's group.
import DurinCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let group = ClientAddress.group(text)
    precondition(group == "other" || group.hasPrefix("v4:") || (group.hasPrefix("v6:") && group.hasSuffix("::/64")), group)
    precondition(group.utf8.count <= 64, "a group is short: \(group)")
    // Decided from every byte: a NUL, where inet_pton would stop reading, is no address.
    if text.utf8.contains(0) { precondition(group == "other", "a text with a NUL is other: \(group)") }
    if group.hasPrefix("v4:") {
        // Named from the parsed address: the name is itself an address of the group.
        let name = String(group.dropFirst(3))
        precondition(name.split(separator: ".").count == 4 && ClientAddress.group(name) == group, "\(text) -> \(group)")
    }
    if group.hasPrefix("v6:") {
        // The /64 itself, written out, is in its own group.
        let prefix = String(group.dropFirst(3).dropLast(4))
        precondition(
            ClientAddress.group(prefix + ":1") == group || ClientAddress.group(prefix + "::1") == group,
            "\(text) -> \(group)")
    }
    return 0
}
