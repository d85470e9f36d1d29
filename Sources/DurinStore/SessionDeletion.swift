package enum SessionDeletion: Equatable, Sendable {
    case deleted(client: String)
    case current
    case notFound
}
