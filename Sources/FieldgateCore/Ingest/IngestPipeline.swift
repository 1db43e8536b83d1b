package import FieldgateModel

/// An HTTP request as the pipeline sees it, whether it came from a socket, a corpus file or a test.
package struct InboundRequest: Sendable {
    package var method: String
    /// The request target: path, optionally followed by `?query`.
    package var path: String
    package var headers: RequestHeaders
    package var body: [UInt8]

    package init(method: String, path: String, headers: RequestHeaders, body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// What became of a request.
package enum IngestOutcome: Sendable, Equatable {
    /// A new event, durably stored.
    case accepted(CanonicalEvent)
    /// A repeat of an event accepted within the tenant's window; carries that first accepted copy.
    case duplicate(of: CanonicalEvent)
    /// Refused; `quarantined` tells whether the request was kept for replay.
    case rejected(Problem, quarantined: Bool)

    /// The HTTP status this outcome answers with.
    package var httpStatus: Int {
        switch self {
        case .accepted, .duplicate: 202
        case .rejected(let problem, _): problem.status
        }
    }
}

/// Verify → adapt → dedupe → store, in the order CONTRACT §1 fixes: the first failing check wins.
///
/// One pipeline serves the HTTP server, `fieldgate normalize` and quarantine replay, so every path into the
/// gateway answers a request the same way.
package struct IngestPipeline: Sendable {
    package static let maximumHeaderBytes = 64 * 1024
    package static let routePrefix = "/webhooks/"

    package let directory: TenantDirectory
    package let store: any EventStore
    package let clock: any WallClock
    package let maxBodyBytes: Int
    /// Called after each new event is stored: the delivery engine and live streams wake up on it.
    package var onAccepted: @Sendable (CanonicalEvent) -> Void

    package init(
        directory: TenantDirectory,
        store: any EventStore,
        clock: any WallClock,
        maxBodyBytes: Int,
        onAccepted: @escaping @Sendable (CanonicalEvent) -> Void = { _ in }
    ) {
        self.directory = directory
        self.store = store
        self.clock = clock
        self.maxBodyBytes = maxBodyBytes
        self.onAccepted = onAccepted
    }

    /// Runs one request through every check and, when it passes, stores its event.
    ///
    /// Throws only when the store fails; the caller answers 503 and the vendor retries.
    package func process(_ request: InboundRequest) async throws -> IngestOutcome {
        switch route(method: request.method, path: request.path, headers: request.headers) {
        case .success(let routed): return try await process(routed, body: request.body)
        case .failure(let problem): return .rejected(problem, quarantined: false)
        }
    }

    /// The checks that need only the request head, so a server can refuse before it reads a byte of the body:
    /// header size, framing, route, method and the declared length.
    package func route(method: String, path target: String, headers: RequestHeaders) -> Result<RoutedRequest, Problem> {
        let headerBytes = headers.wireSize
        if headerBytes > Self.maximumHeaderBytes {
            return .failure(.headersTooLarge(headerBytes, limit: Self.maximumHeaderBytes))
        }
        let declaredLength: Int?
        switch Self.declaredLength(headers) {
        case .success(let length): declaredLength = length
        case .failure(let problem): return .failure(problem)
        }

        // Routing: exact, case-sensitive, no dot-segment removal; `%2F` stays data.
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path.hasPrefix(Self.routePrefix) else { return .failure(.notFound(String(path))) }
        let segments = path.dropFirst(Self.routePrefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count >= 2, let adapter = directory.adapter(for: segments[0]), !segments[1].isEmpty,
            let routeSuffix = adapter.routeSuffix(for: Array(segments.dropFirst(2)))
        else { return .failure(.notFound(String(path))) }
        guard method == "POST" else { return .failure(.methodNotAllowed(method)) }

        // 1. Size, by declared length (the bytes read are checked in `process(_:body:)`).
        if let declaredLength, declaredLength > maxBodyBytes {
            return .failure(
                .bodyTooLarge("Content-Length \(declaredLength) exceeds the limit of \(maxBodyBytes) bytes")
            )
        }
        return .success(
            RoutedRequest(
                method: method,
                path: target,
                headers: headers,
                vendor: adapter.vendor,
                tenant: String(segments[1]),
                routeSuffix: routeSuffix
            )
        )
    }

    /// Runs a routed request and its body through the remaining checks and stores its event.
    package func process(_ routed: RoutedRequest, body: [UInt8]) async throws -> IngestOutcome {
        let receivedAt = clock.now()
        if body.count > maxBodyBytes {
            return .rejected(.bodyTooLarge("the body exceeds the limit of \(maxBodyBytes) bytes"), quarantined: false)
        }
        // 2. Tenant and credentials.
        guard let entry = directory.entry(vendor: routed.vendor, tenant: routed.tenant) else {
            return .rejected(.unknownTenant(vendor: routed.vendor, tenant: routed.tenant), quarantined: false)
        }
        if let failure = entry.tenant.authenticate(routed.headers) {
            return .rejected(.badCredentials(failure), quarantined: false)
        }
        let request = InboundRequest(method: routed.method, path: routed.path, headers: routed.headers, body: body)
        let verified = VerifiedRequest(
            request: request,
            raw: RawRequest.redacting(request, secretHeaders: entry.tenant.secretHeaderNames),
            vendor: routed.vendor,
            tenant: routed.tenant,
            routeSuffix: routed.routeSuffix,
            entry: entry
        )
        return try await adaptAndStore(verified, receivedAt: receivedAt, quarantineRejections: true)
    }

    /// Re-runs a quarantined request through today's adapters and tenants: `POST /v1/quarantine/{id}/replay`.
    ///
    /// The request was authenticated when it arrived and its secrets are redacted since, so credentials are not
    /// checked again; everything after them is. A rejection is answered but not quarantined a second time. Storing
    /// the event and marking the request replayed are one store transaction, and a request replayed before is not
    /// replayed again: two replays make at most one event.
    package func replay(quarantineID: String) async throws -> ReplayOutcome {
        guard let quarantined = try await store.quarantinedRequest(id: quarantineID) else { return .notFound }
        if let eventID = quarantined.replayedAs {
            return .alreadyReplayed(eventID: eventID, at: quarantined.replayedAt)
        }
        guard let entry = directory.entry(vendor: quarantined.vendor, tenant: quarantined.tenant) else {
            return .rejected(.unknownTenant(vendor: quarantined.vendor, tenant: quarantined.tenant))
        }
        let raw = quarantined.raw
        let verified = VerifiedRequest(
            request: InboundRequest(method: raw.method, path: raw.path, headers: raw.headers, body: raw.body),
            raw: raw,
            vendor: quarantined.vendor,
            tenant: quarantined.tenant,
            routeSuffix: quarantined.routeSuffix,
            entry: entry
        )
        let replayedAt = clock.now()
        switch try await adapt(verified, receivedAt: replayedAt, quarantineRejections: false) {
        case .rejected(let problem, _):
            return .rejected(problem)
        case .candidate(let candidate):
            switch try await store.insertReplay(candidate, quarantineID: quarantineID, at: replayedAt) {
            case .replayed(.inserted(let event)):
                onAccepted(event)
                return .accepted(event)
            case .replayed(.duplicate(let original)): return .duplicate(of: original)
            case .alreadyReplayed(let eventID, let at): return .alreadyReplayed(eventID: eventID, at: at)
            case .notFound: return .notFound
            }
        }
    }

    /// A request that passed routing, size and credentials: from here on, rejections are quarantined.
    struct VerifiedRequest {
        var request: InboundRequest
        var raw: RawRequest
        var vendor: String
        var tenant: String
        var routeSuffix: String
        var entry: TenantDirectory.Entry
    }

    /// `Content-Length` as a number; conflicting framing is refused because proxies and servers may disagree
    /// about where such a body ends (request smuggling).
    static func declaredLength(_ headers: RequestHeaders) -> Result<Int?, Problem> {
        let lengths = headers.values("Content-Length")
        if !lengths.isEmpty && headers.contains("Transfer-Encoding") {
            return .failure(.badFraming("Content-Length and Transfer-Encoding must not both be present"))
        }
        // The usual request: one plain decimal Content-Length.
        if lengths.count == 1, lengths[0].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let length = Int(lengths[0])
        {
            return .success(length)
        }
        let distinct = Set(lengths.flatMap { $0.split(separator: ",").map { $0.trimmingASCIISpaces } })
        guard distinct.count <= 1 else {
            return .failure(
                .badFraming("conflicting Content-Length values: \(distinct.sorted().joined(separator: ", "))")
            )
        }
        guard let text = distinct.first else { return .success(nil) }
        guard let length = Int(text), length >= 0 else {
            return .failure(.badFraming("Content-Length '\(text)' is not a number"))
        }
        return .success(length)
    }

    // MARK: Checks after authentication (rejections are quarantined)

    func adaptAndStore(
        _ verified: VerifiedRequest,
        receivedAt: UTCTimestamp,
        quarantineRejections: Bool
    ) async throws -> IngestOutcome {
        switch try await adapt(verified, receivedAt: receivedAt, quarantineRejections: quarantineRejections) {
        case .rejected(let problem, let quarantined):
            return .rejected(problem, quarantined: quarantined)
        case .candidate(let candidate):
            switch try await store.insertIfNew(candidate) {
            case .inserted(let stored):
                onAccepted(stored)
                return .accepted(stored)
            case .duplicate(let original): return .duplicate(of: original)
            }
        }
    }

    /// What the checks after authentication made of a request: an event to store, or a rejection.
    enum Adaptation {
        case candidate(EventCandidate)
        case rejected(Problem, quarantined: Bool)
    }

    /// Media type, syntax, account and semantics; a rejection is quarantined when `quarantineRejections` is set.
    func adapt(
        _ verified: VerifiedRequest,
        receivedAt: UTCTimestamp,
        quarantineRejections: Bool
    ) async throws -> Adaptation {
        let request = verified.request
        let raw = verified.raw
        func reject(_ problem: Problem) async throws -> Adaptation {
            // 401 (account mismatch) is an authentication failure: counted, not kept.
            guard quarantineRejections, [400, 415, 422].contains(problem.status) else {
                return .rejected(problem, quarantined: false)
            }
            let quarantined = QuarantinedRequest(
                id: QuarantineID.make(receivedAt: receivedAt),
                vendor: verified.vendor,
                tenant: verified.tenant,
                routeSuffix: verified.routeSuffix,
                raw: raw,
                problem: problem,
                receivedAt: receivedAt
            )
            try await store.quarantine(quarantined)
            return .rejected(problem, quarantined: true)
        }

        // 3. Media type.
        if let problem = Self.checkMediaType(request.headers, expected: verified.entry.adapter.mediaType) {
            return try await reject(problem)
        }
        // 4–6. Syntax, account, semantics: the adapter checks them in that order.
        guard !request.body.isEmpty else { return try await reject(.emptyBody) }
        let adapted: AdaptedEvent
        do {
            adapted = try verified.entry.tenant.normalize(
                AdapterRequest(routeSuffix: verified.routeSuffix, headers: request.headers, body: request.body)
            )
        } catch {
            return try await reject(Problem(error))
        }

        // 7. Dedupe and store.
        let key = DedupeKey(
            vendor: verified.vendor,
            tenant: verified.tenant,
            routeSuffix: verified.routeSuffix,
            canonicalContent: adapted.canonicalContent
        )
        let event = CanonicalEvent(
            id: key.eventID,
            type: adapted.type,
            time: adapted.occurredAt ?? receivedAt,
            vendor: verified.vendor,
            tenant: verified.tenant,
            vendorEvent: adapted.vendorEvent,
            receivedAt: receivedAt,
            job: adapted.job.map { JobState(vendor: verified.vendor, tenant: verified.tenant, adapted: $0) },
            detail: adapted.detail
        )
        return .candidate(
            EventCandidate(
                event: event,
                key: key,
                keyExpiresAt: UTCTimestamp(
                    millisecondsSinceEpoch: receivedAt.millisecondsSinceEpoch
                        + verified.entry.dedupeWindow.milliseconds
                ),
                raw: raw
            )
        )
    }

    /// The media type before any `;` parameters, compared case-insensitively; bodies are never inflated, so any
    /// `Content-Encoding` but identity is refused too.
    static func checkMediaType(_ headers: RequestHeaders, expected: String) -> Problem? {
        if let encoding = headers["Content-Encoding"], !encoding.trimmingASCIISpaces.equalsIgnoringASCIICase("identity")
        {
            return .unsupportedMediaType("Content-Encoding '\(encoding)' is not supported; send the body uncompressed")
        }
        guard let contentType = headers["Content-Type"] else {
            return .unsupportedMediaType("Content-Type is missing; expected \(expected)")
        }
        let mediaType =
            contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first
            .map { String($0).trimmingASCIISpaces } ?? ""
        guard mediaType.equalsIgnoringASCIICase(expected) else {
            return .unsupportedMediaType("Content-Type '\(mediaType)' is not accepted here; expected \(expected)")
        }
        return nil
    }
}

/// What `POST /v1/quarantine/{id}/replay` did.
package enum ReplayOutcome: Sendable, Equatable {
    /// The replay made a new event.
    case accepted(CanonicalEvent)
    /// The replay's event duplicates one accepted within its window; carries that original.
    case duplicate(of: CanonicalEvent)
    /// Today's pipeline still refuses the request; it stays quarantined and is not quarantined again.
    case rejected(Problem)
    /// Replayed before, into this event: nothing was replayed now.
    case alreadyReplayed(eventID: String, at: UTCTimestamp?)
    case notFound
}

/// A request whose head passed routing, method and declared size: what the server knows before reading the body.
package struct RoutedRequest: Sendable {
    package var method: String
    package var path: String
    package var headers: RequestHeaders
    package var vendor: String
    package var tenant: String
    package var routeSuffix: String
}

/// Quarantine IDs: unique per request and sortable by receipt time (`q_<ms hex>_<random hex>`).
enum QuarantineID {
    static func make(receivedAt: UTCTimestamp) -> String {
        let time = String(UInt64(max(receivedAt.millisecondsSinceEpoch, 0)), radix: 16)
        let random = String(UInt64.random(in: .min ... .max), radix: 16)
        return "q_" + String(repeating: "0", count: max(0, 12 - time.count)) + time + "_"
            + String(repeating: "0", count: 16 - random.count) + random
    }
}

extension StringProtocol {
    /// Trims spaces and tabs (HTTP's optional whitespace) from both ends.
    var trimmingASCIISpaces: String {
        let trimmed = drop { $0 == " " || $0 == "\t" }
        guard let last = trimmed.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return String(trimmed[...last])
    }
}
