// Route.match on arbitrary PATH_INFO strings.
import DurinServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let route = Route.match(path)
    // Leading slashes never matter.
    precondition(Route.match("/" + path) == route, "a leading slash changes the route")
    if let route {
        precondition(!route.spec.methods.isEmpty)
        _ = route.spec.requiresToken
        _ = route.spec.viewName
        if let id = route.parameter {
            precondition(route.spec.name == "session", "only sessions/<id>/ has a parameter")
            precondition(!id.isEmpty && !id.contains("/"), "session id \(id.debugDescription)")
        }
    }
    return 0
}
