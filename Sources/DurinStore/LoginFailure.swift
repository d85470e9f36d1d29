package enum LoginFailure: Error, Equatable {
    case noClient
    case userInactive
    case alreadyExists
}
