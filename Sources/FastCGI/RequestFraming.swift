/// How much of one FastCGI request has arrived, read from its record headers alone
/// (FastCGI 1.0, section 3.3: an 8-byte header, then content and padding).
///
/// The responder hands a connection to libfcgi only once its request is buffered
/// in the socket, so that no worker thread ever waits on a peer: a silent or
/// half-sent connection waits in the intake instead (ConnectionIntake). This type
/// decides "buffered whole" from the bytes seen so far, fed in any pieces. It
/// keeps no bytes, only counts: params and body stay in the socket for libfcgi.
package struct RequestFraming: Sendable {
    package enum Progress: Equatable, Sendable {
        /// More bytes must arrive.
        case incomplete
        /// The params and the body (an empty STDIN record ends it) have arrived.
        case complete
        /// The params have arrived, and the body is larger than the window: the
        /// worker reads the rest from the socket, under the connection's deadline.
        case bodyStreaming
        /// Not a request this responder serves; the connection is closed unanswered.
        case refused(Refusal)
    }

    package enum Refusal: String, Sendable, CaseIterable {
        /// A record header that is not FastCGI version 1.
        case notFastCGI = "not_fastcgi"
        /// Params larger than `paramsLimit` bytes.
        case paramsTooLarge = "params_too_large"
        /// Records out of the order a request is sent in (params before the begin
        /// record, body before the params' end, a second request, an abort).
        case outOfOrder = "out_of_order"
    }

    // FastCGI record types (section 8).
    static let beginRequest: UInt8 = 1, abortRequest: UInt8 = 2, params: UInt8 = 4, stdin: UInt8 = 5

    /// The most bytes of params a request may carry. nginx sends at most its
    /// request headers (large_client_header_buffers, 32 KiB by default) plus a
    /// dozen variables.
    package let paramsLimit: Int
    /// How many bytes the caller looks at before it stops waiting for the body.
    package let window: Int
    /// Bytes fed so far.
    package private(set) var consumed = 0

    private var header: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var headerFill = 0
    /// Content and padding bytes of the current record still to come.
    private var bodyLeft = 0
    private var begun = false
    private var paramsDone = false
    private var stdinDone = false
    private var paramsBytes = 0
    private var refusal: Refusal?

    package init(paramsLimit: Int = 64 << 10, window: Int = 128 << 10) {
        precondition(paramsLimit < window, "the window must hold the params and at least a record header")
        self.paramsLimit = paramsLimit
        self.window = window
    }

    /// Where the request stands after everything fed so far.
    package var progress: Progress {
        if let refusal { return .refused(refusal) }
        if stdinDone { return .complete }
        if paramsDone && consumed >= window { return .bodyStreaming }
        // The window filled before the params ended: they cannot fit.
        if consumed >= window { return .refused(.paramsTooLarge) }
        return .incomplete
    }

    /// Reads the next bytes of the connection; returns the progress after them.
    @discardableResult
    package mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Progress {
        var i = 0
        while i < bytes.count && refusal == nil && !stdinDone {
            if bodyLeft > 0 {
                let n = min(bodyLeft, bytes.count - i)
                bodyLeft -= n
                i += n
                continue
            }
            withUnsafeMutableBytes(of: &header) { $0[headerFill] = bytes[i] }
            headerFill += 1
            i += 1
            if headerFill == 8 {
                headerFill = 0
                recordHeader()
            }
        }
        consumed += i
        return progress
    }

    @discardableResult
    package mutating func feed(_ bytes: [UInt8]) -> Progress {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Takes in one complete record header: what it says about the request.
    private mutating func recordHeader() {
        let (version, type, idHigh, idLow, lengthHigh, lengthLow, padding, _) = header
        guard version == 1 else { return refuse(.notFastCGI) }
        let contentLength = Int(lengthHigh) << 8 | Int(lengthLow)
        bodyLeft = contentLength + Int(padding)
        // Management records (request id 0, e.g. FCGI_GET_VALUES) may come at any
        // time; libfcgi answers them itself.
        if idHigh == 0 && idLow == 0 { return }
        switch type {
        case Self.beginRequest:
            guard !begun, contentLength == 8 else { return refuse(.outOfOrder) }
            begun = true
        case Self.params:
            guard begun, !paramsDone else { return refuse(.outOfOrder) }
            if contentLength == 0 {
                paramsDone = true
            } else {
                paramsBytes += contentLength
                if paramsBytes > paramsLimit { refuse(.paramsTooLarge) }
            }
        case Self.stdin:
            guard paramsDone else { return refuse(.outOfOrder) }
            if contentLength == 0 { stdinDone = true }
        case Self.abortRequest:
            refuse(.outOfOrder)
        default:
            // FCGI_DATA (the filter role) and types a responder never receives:
            // skipped here, left to libfcgi.
            guard begun else { return refuse(.outOfOrder) }
        }
    }

    private mutating func refuse(_ why: Refusal) { refusal = why }
}
