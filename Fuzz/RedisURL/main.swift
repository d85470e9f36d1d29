// RedisEndpoint.parse on arbitrary DURIN_REDIS_URL values.
import RedisClient

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let endpoint = try? RedisEndpoint.parse(url) else { return 0 }
    precondition(endpoint.database >= 0, "negative database")
    switch endpoint.address {
    case .tcp(let host, let port):
        precondition(!host.isEmpty, "empty host")
        precondition((1...65535).contains(port), "port \(port)")
    case .unix(let path):
        precondition(path.hasPrefix("/") && path.count > 1, "socket path \(path.debugDescription)")
    case .sentinel(let nodes, let service):
        precondition(!nodes.isEmpty && !service.isEmpty && !service.contains("/"), "sentinels \(nodes) service \(service)")
        for node in nodes {
            precondition(!node.host.isEmpty, "empty sentinel host")
            precondition((1...65535).contains(node.port), "sentinel port \(node.port)")
        }
    }
    _ = endpoint.description
    return 0
}
