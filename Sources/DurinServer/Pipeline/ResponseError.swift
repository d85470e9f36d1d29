package import DurinHTTP
package import DurinStore

/// An error a handler may throw as it is: the dispatcher turns it into durin's
/// answer, logs and counts it, in one place (`API.answer(for:_:)`). Handlers throw
/// the store's errors and their own `APIError`s without converting either.
package protocol HTTPResponseError: Error {
    /// The answer, as durin words it.
    var apiError: APIError { get }
}

extension APIError: HTTPResponseError {
    package var apiError: APIError { self }
}

extension StoreError: HTTPResponseError {
    /// Redis trouble is 503 (try again); anything else is 500.
    package var apiError: APIError {
        if case .unavailable = self { return .storeUnavailable }
        return .internalError
    }
}

extension AdminStore.Failure: HTTPResponseError {
    /// "No such" is 404, "exists" or "reserved" a validation error, Redis trouble the store's answer.
    package var apiError: APIError {
        switch self {
        case .notFound: return .notFound
        case .exists(let what): return .validation("\(what) already exists.")
        case .reserved(let why): return .validation(why.prefix(1).uppercased() + why.dropFirst() + ".")
        case .store(let error): return error.apiError
        }
    }
}
