package import DurinCore
package import Logging

/// One request as every handler sees it: the request, its route, the logger that
/// names it, this thread's counters and the clock. Made by the dispatcher, passed
/// to the handler, and, for a login, handed with it to the hasher.
package struct RequestContext: Sendable {
    package let request: HTTPRequest
    /// nil: no route matched (the answer is 404, counted as "unknown").
    package let route: Route?
    /// The group of the request's location (nil: none is mounted there), found once.
    package let group: RouteGroup?
    /// This thread's counters (nil with DURIN_METRICS=off).
    package let slot: Metrics.Slot?
    /// The time every decision of the request is made at.
    package let clock: any WallTime
    /// When the worker took the request (latency of timed routes).
    package let started: ContinuousClock.Instant
    private let baseLogger: Logger

    package init(
        request: HTTPRequest, route: Route?, group: RouteGroup?, logger: Logger, slot: Metrics.Slot?, clock: any WallTime,
        started: ContinuousClock.Instant = .now
    ) {
        self.request = request
        self.route = route
        self.group = group
        self.baseLogger = logger
        self.slot = slot
        self.clock = clock
        self.started = started
    }

    /// The service's logger, each line carrying the request's id (nginx's
    /// `$request_id`) and trace id: one request followed through nginx's log,
    /// durin's and the events. Built when a line is logged, not per request.
    package var logger: Logger {
        guard request.requestID != nil || request.traceparent != nil else { return baseLogger }
        var logger = baseLogger
        if let id = request.requestID { logger[metadataKey: "request_id"] = .string(id) }
        if let trace = request.traceparent.flatMap(TraceContext.traceID) { logger[metadataKey: "trace_id"] = .string(trace) }
        return logger
    }

    package var now: EpochMillis { clock.nowMillis() }
}

/// The request identifiers nginx passes, checked before any reaches a log line or
/// an event: a client chooses its `traceparent`, and a line must not be forged.
package enum TraceContext {
    /// nginx's `$request_id` is 32 hex digits; another front's may differ, so any
    /// 1–64 characters of letters, digits, `-`, `_` and `.` are kept, anything else dropped.
    package static func requestID(_ value: String?) -> String? {
        guard var value, !value.isEmpty, value.utf8.count <= 64 else { return nil }
        // Over the bytes in place: every check passes here.
        let valid = value.withUTF8 { bytes in
            for c in bytes where !(isAlphanumeric(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")) {
                return false
            }
            return true
        }
        return valid ? value : nil
    }

    /// A W3C trace context `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), else nil.
    package static func traceparent(_ value: String?) -> String? {
        guard let value, traceID(value) != nil else { return nil }
        return value
    }

    /// The trace id of a well-formed `traceparent` (not all zeros), else nil.
    package static func traceID(_ traceparent: String) -> String? {
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].utf8.count == 2, parts[1].utf8.count == 32, parts[2].utf8.count == 16,
            parts[3].utf8.count == 2, parts[0] != "ff",
            parts.allSatisfy({ $0.utf8.allSatisfy(isLowerHex) }),
            parts[1].utf8.contains(where: { $0 != UInt8(ascii: "0") }),
            parts[2].utf8.contains(where: { $0 != UInt8(ascii: "0") })
        else { return nil }
        return String(parts[1])
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    private static func isLowerHex(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
    }
}
