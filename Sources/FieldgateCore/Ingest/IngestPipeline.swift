package import FieldgateModel

/// The head of an HTTP request: what a server has before it reads a byte of the body.
package struct RequestHead: Sendable, Equatable {
    package var method: String
    /// The request target: path, optionally followed by `?query`.
    package var target: String
    package var headers: RequestHeaders

    package init(method: String, target: String, headers: RequestHeaders) {
        self.method = method
        self.target = target
        self.headers = headers
    }
}

/// An HTTP request as the pipeline sees it, whether it came from a socket, a corpus file or a test.
package struct InboundRequest: Sendable {
    package var head: RequestHead
    package var body: [UInt8]

    package init(method: String, path: String, headers: RequestHeaders, body: [UInt8]) {
        head = RequestHead(method: method, target: path, headers: headers)
        self.body = body
    }
}

/// A request whose head passed every check that needs no body (CONTRACT §1: route, method, declared size,
/// tenant, credentials): the body may now be read. Rejections from here on are quarantined.
package struct AdmittedRequest: Sendable {
    package var head: RequestHead
    package var vendor: String
    package var tenant: String
    package var routeSuffix: String
    /// `Content-Length`, when the request declared one (already checked against the limit).
    package var declaredLength: Int?
    let entry: TenantDirectory.Entry
}

/// What the head alone decides.
package enum Admission: Sendable {
    case admitted(AdmittedRequest)
    /// Refused before the body: `vendor` when the route named one, `tenant` only when it is configured (metric
    /// labels take configured names only, so scanners cannot create series).
    case refused(Problem, vendor: String?, tenant: String?)
}

/// What became of a request.
package enum IngestOutcome: Sendable, Equatable {
    /// A new event, durably stored.
    case accepted(CanonicalEvent)
    /// A repeat of an event accepted within the tenant's window: the ID of that first accepted copy.
    case duplicate(id: String)
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
/// gateway answers a request the same way. A server calls ``admit(_:)`` with the head and reads the body only
/// for an admitted request; the offline tools call ``process(_:)`` with the whole request.
package struct IngestPipeline: Sendable {
    package static let maximumHeaderBytes = 64 * 1024
    package static let routePrefix = "/webhooks/"

    let directory: TenantDirectory
    let store: any EventStore
    let clock: any WallClock
    package let maxBodyBytes: Int
    /// The vendors this pipeline has adapters for, sorted: the admin API's vendor vocabulary.
    package var vendors: [String] { directory.vendors }
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

    /// Runs one whole request through every check and, when it passes, stores its event.
    ///
    /// Throws only when the store fails (``StoreOverloaded`` when it is full); the caller answers 503 and the
    /// vendor retries.
    package func process(_ request: InboundRequest) async throws -> IngestOutcome {
        switch admit(request.head) {
        case .admitted(let admitted): return try await process(admitted, body: request.body)
        case .refused(let problem, _, _): return .rejected(problem, quarantined: false)
        }
    }

    /// The checks that need only the request head, so a server can refuse before it buffers a byte of the body:
    /// header size, framing, route, method, the declared length, the tenant and its credentials.
    package func admit(_ head: RequestHead) -> Admission {
        let headerBytes = head.headers.wireSize
        if headerBytes > Self.maximumHeaderBytes {
            return .refused(.headersTooLarge(headerBytes, limit: Self.maximumHeaderBytes), vendor: nil, tenant: nil)
        }
        let declaredLength: Int?
        switch Self.declaredLength(head.headers) {
        case .success(let length): declaredLength = length
        case .failure(let problem): return .refused(problem, vendor: nil, tenant: nil)
        }

        // Routing: exact, case-sensitive, no dot-segment removal; `%2F` stays data.
        let path = head.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path.hasPrefix(Self.routePrefix) else {
            return .refused(.notFound(String(path)), vendor: nil, tenant: nil)
        }
        let segments = path.dropFirst(Self.routePrefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count >= 2, let adapter = directory.adapter(for: segments[0]), !segments[1].isEmpty,
            let routeSuffix = adapter.routeSuffix(for: Array(segments.dropFirst(2)))
        else { return .refused(.notFound(String(path)), vendor: nil, tenant: nil) }
        let vendor = adapter.vendor
        guard head.method == "POST" else {
            return .refused(.methodNotAllowed(head.method), vendor: vendor, tenant: nil)
        }

        // 1. Size, by declared length (the bytes read are checked in `process(_:body:)`).
        let entry = directory.entry(vendor: vendor, tenant: segments[1])
        let label = entry.map { _ in String(segments[1]) }
        if let declaredLength, declaredLength > maxBodyBytes {
            return .refused(
                .bodyTooLarge("Content-Length \(declaredLength) exceeds the limit of \(maxBodyBytes) bytes"),
                vendor: vendor,
                tenant: label
            )
        }
        // 2. Tenant and credentials: every vendor credential is a header.
        guard let entry else {
            return .refused(.unknownTenant(vendor: vendor, tenant: String(segments[1])), vendor: vendor, tenant: nil)
        }
        if let failure = entry.tenant.authenticate(head.headers) {
            return .refused(.badCredentials(failure), vendor: vendor, tenant: label)
        }
        return .admitted(
            AdmittedRequest(
                head: head,
                vendor: vendor,
                tenant: String(segments[1]),
                routeSuffix: routeSuffix,
                declaredLength: declaredLength,
                entry: entry
            )
        )
    }

    /// Runs an admitted request's body through the remaining checks and stores its event.
    package func process(_ admitted: AdmittedRequest, body: [UInt8]) async throws -> IngestOutcome {
        let receivedAt = clock.now()
        if body.count > maxBodyBytes {
            return .rejected(.bodyTooLarge("the body exceeds the limit of \(maxBodyBytes) bytes"), quarantined: false)
        }
        let redacted = RedactedRequest(
            admitted.head,
            body: body,
            secretHeaders: admitted.entry.tenant.secretHeaderNames
        )
        return try await adaptAndStore(admitted, redacted: redacted, receivedAt: receivedAt, quarantineRejections: true)
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
        let admitted = AdmittedRequest(
            head: quarantined.raw.head,
            vendor: quarantined.vendor,
            tenant: quarantined.tenant,
            routeSuffix: quarantined.routeSuffix,
            declaredLength: nil,
            entry: entry
        )
        let replayedAt = clock.now()
        let adaptation = try await adapt(
            admitted,
            redacted: quarantined.raw,
            receivedAt: replayedAt,
            quarantineRejections: false
        )
        switch adaptation {
        case .rejected(let problem, _):
            return .rejected(problem)
        case .candidate(let candidate):
            switch try await store.insertReplay(candidate, quarantineID: quarantineID, at: replayedAt) {
            case .replayed(.inserted(let event)):
                onAccepted(event)
                return .accepted(event)
            case .replayed(.duplicate(let id)): return .duplicate(id: id)
            case .alreadyReplayed(let eventID, let at): return .alreadyReplayed(eventID: eventID, at: at)
            case .notFound: return .notFound
            }
        }
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

    /// The checks after authentication, then the store.
    func adaptAndStore(
        _ request: AdmittedRequest,
        redacted: RedactedRequest,
        receivedAt: UTCTimestamp,
        quarantineRejections: Bool
    ) async throws -> IngestOutcome {
        let adaptation = try await adapt(
            request,
            redacted: redacted,
            receivedAt: receivedAt,
            quarantineRejections: quarantineRejections
        )
        switch adaptation {
        case .rejected(let problem, let quarantined):
            return .rejected(problem, quarantined: quarantined)
        case .candidate(let candidate):
            switch try await store.insertIfNew(candidate) {
            case .inserted(let stored):
                onAccepted(stored)
                return .accepted(stored)
            case .duplicate(let id): return .duplicate(id: id)
            }
        }
    }

    /// What the checks after authentication made of a request: an event to store, or a rejection.
    enum Adaptation {
        case candidate(EventCandidate)
        case rejected(Problem, quarantined: Bool)
    }

    /// Media type, syntax, account and semantics; a rejection is quarantined when `quarantineRejections` is set
    /// and its code quarantines. The adapter sees the request's own headers; what is stored is `redacted` (for a
    /// replay the two are the same: the stored request is all there is).
    func adapt(
        _ request: AdmittedRequest,
        redacted: RedactedRequest,
        receivedAt: UTCTimestamp,
        quarantineRejections: Bool
    ) async throws -> Adaptation {
        let body = redacted.body
        func reject(_ problem: Problem) async throws -> Adaptation {
            guard quarantineRejections, problem.quarantinesRequest else {
                return .rejected(problem, quarantined: false)
            }
            let quarantined = QuarantinedRequest(
                id: QuarantineID.make(receivedAt: receivedAt),
                vendor: request.vendor,
                tenant: request.tenant,
                routeSuffix: request.routeSuffix,
                raw: redacted,
                problem: problem,
                receivedAt: receivedAt
            )
            try await store.quarantine(quarantined)
            return .rejected(problem, quarantined: true)
        }

        // 3. Media type.
        if let problem = Self.checkMediaType(request.head.headers, expected: request.entry.adapter.mediaType) {
            return try await reject(problem)
        }
        // 4–6. Syntax, account, semantics: the adapter checks them in that order.
        guard !body.isEmpty else { return try await reject(.emptyBody) }
        let adapted: AdaptedEvent
        do {
            adapted = try request.entry.tenant.normalize(
                AdapterRequest(routeSuffix: request.routeSuffix, headers: request.head.headers, body: body)
            )
        } catch {
            return try await reject(Problem(error))
        }

        // 7. The event and its dedupe key.
        let key = DedupeKey(
            vendor: request.vendor,
            tenant: request.tenant,
            routeSuffix: request.routeSuffix,
            canonicalContent: adapted.canonicalContent
        )
        var job = adapted.job
        if var state = job {
            state.key = state.id.map { "\(request.vendor):\(request.tenant):\($0)" }
            job = state
        }
        let event = CanonicalEvent(
            id: key.eventID,
            type: adapted.type,
            time: adapted.occurredAt ?? receivedAt,
            vendor: request.vendor,
            tenant: request.tenant,
            vendorEvent: adapted.vendorEvent,
            receivedAt: receivedAt,
            job: job,
            detail: adapted.detail
        )
        return .candidate(
            EventCandidate(
                event: event,
                key: key,
                keyExpiresAt: UTCTimestamp(
                    millisecondsSinceEpoch: receivedAt.millisecondsSinceEpoch
                        + request.entry.dedupeWindow.milliseconds
                ),
                raw: redacted
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
    /// The replay's event duplicates one accepted within its window: that original's ID.
    case duplicate(id: String)
    /// Today's pipeline still refuses the request; it stays quarantined and is not quarantined again.
    case rejected(Problem)
    /// Replayed before, into this event: nothing was replayed now.
    case alreadyReplayed(eventID: String, at: UTCTimestamp?)
    case notFound
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
