package import FieldgateModel

/// TechLink Services webhooks: JSON events with an `X-Token` header and no event ID, retried up to three times.
package struct TechLinkAdapter: VendorAdapter {
    package init() {}

    package var vendor: String { "techlink" }
    package var mediaType: String { "application/json" }
    /// TechLink retries three times a minute or two apart and sends no event ID: a longer window would swallow a
    /// genuine repeat of the same transition (its statuses cycle, A→B→A→B within half an hour), so 10 minutes
    /// covers the retries and little more (CONTRACT §2).
    package var defaultDedupeWindow: Duration { .seconds(10 * 60) }

    package func routeSuffix(for segments: [Substring]) -> String? {
        segments.isEmpty ? "" : nil
    }

    package func makeTenant(_ definition: TenantDefinition) throws(ConfigurationError) -> any VendorTenant {
        try definition.options.refuseUnknownKeys(Self.tenantKeys, in: "tenant '\(definition.tenant)'")
        var tokens: [String] = []
        // `tokens: []` is a tenant without tokens, like one without the key (CONTRACT §1: X-Token is then not
        // checked, and check-config says so); an empty or blank entry is an empty credential and refused.
        if let node = definition.options["tokens"], !node.isEmptySequence {
            tokens = try node.credentialValues(named: "tokens")
        }
        return TechLinkTenant(tokens: tokens)
    }

    /// The keys a TechLink tenant entry may have.
    static let tenantKeys = TenantDefinition.sharedKeys + ["tokens"]
}

struct TechLinkTenant: VendorTenant {
    /// Registration tokens; empty means `X-Token` is not checked (TechLink registrations without a token).
    let tokens: [String]

    var secretHeaderNames: [String] { ["X-Token"] }

    func authenticate(_ headers: RequestHeaders) -> CredentialFailure? {
        guard !tokens.isEmpty else { return nil }
        guard let presented = headers["X-Token"] else { return CredentialFailure("header 'X-Token' is missing") }
        guard SecretComparison.matchesAny(presented, tokens) else {
            return CredentialFailure("header 'X-Token' does not match any of the tenant's tokens")
        }
        return nil
    }

    func normalize(_ request: AdapterRequest) throws(AdapterError) -> AdaptedEvent {
        let body = try JSONDocument.parseObjectBody(request.body)
        guard let eventName = body.text("event") else { throw AdapterError.missing("event") }
        guard let event = TechLinkEvent(eventName) else {
            throw AdapterError(.unknownEvent, "event '\(eventName)' is not a TechLink event the gateway maps")
        }
        var workOrderID: String?
        if event.concernsWorkOrder { workOrderID = try Self.workOrderID(of: body) }
        var adapted = TechLinkMapping(body: body, event: event, eventName: eventName, workOrderID: workOrderID).adapt()
        adapted.canonicalContent = body.canonicalBytes
        return adapted
    }
}

extension TechLinkTenant {
    /// The top-level `workorder_id`; only when the top level has no such key, `data.workorder_id`. A top-level
    /// key that is present but empty, blank or null is refused even when `data` has one: the two disagree, and
    /// guessing which names the work order could file the event under the wrong job.
    static func workOrderID(of body: JSONElement) throws(AdapterError) -> String {
        if let topLevel = body["workorder_id"] {
            guard let id = topLevel.nonEmptyText else {
                throw AdapterError(
                    .missingField,
                    "top-level 'workorder_id' is present but empty (data.workorder_id is not used in its place)"
                )
            }
            return id
        }
        guard let id = body.object("data")?.text("workorder_id") else { throw AdapterError.missing("workorder_id") }
        return id
    }
}

/// The TechLink events the gateway maps; names compare case-insensitively with whitespace collapsed.
enum TechLinkEvent: String, CaseIterable {
    case accountCreated = "account created"
    case accountUpdated = "account updated"
    case siteCreated = "site created"
    case siteUpdated = "site updated"
    case workOrderCreated = "work order created"
    case workOrderUpdated = "work order updated"
    case workOrderStatusChange = "work order status change"
    case workOrderScheduled = "work order scheduled"
    case workOrderAssigned = "work order assigned"
    case workOrderTechOnSite = "work order tech on-site"
    case workOrderTechOffSite = "work order tech off-site"
    case workOrderClosed = "work order closed"
    case workOrderCancelled = "work order cancelled"
    case workOrderNoteAdded = "work order note added"
    case workOrderPhotoAdded = "work order photo added"
    case workOrderCloseOutDocumentAdded = "work order close-out document added"
    case workOrderClientDocumentAdded = "work order client document added"
    case workOrderQuestionAnswered = "work order question answered"
    case workOrderTaskAdded = "work order task added"
    case workOrderTaskUpdated = "work order task updated"
    case workOrderTaskDeleted = "work order task deleted"

    init?(_ name: String) {
        // No event name is longer than 64 bytes: a longer one is not folded past that (it may be a megabyte).
        guard let normalized = StatusName(name, maximumLength: 64)?.normalized else { return nil }
        if let event = TechLinkEvent(rawValue: normalized) {
            self = event
        } else if normalized == "work order canceled" {
            self = .workOrderCancelled
        } else {
            return nil
        }
    }

    var concernsWorkOrder: Bool { rawValue.hasPrefix("work order ") }
}
