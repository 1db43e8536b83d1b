package import FieldgateModel

/// Hellotracks webhooks: form-encoded callbacks (`account`, `id`, `action`, `reason`, `data` as a JSON string)
/// authenticated by whatever custom headers the tenant configured in Hellotracks.
package struct HellotracksAdapter: VendorAdapter {
    package init() {}

    package var vendor: String { "hellotracks" }
    package var mediaType: String { "application/x-www-form-urlencoded" }
    package var defaultDedupeWindow: Duration { .seconds(7 * 86_400) }

    package func routeSuffix(for segments: [Substring]) -> String? {
        segments.isEmpty ? "" : nil
    }

    package func makeTenant(_ definition: TenantDefinition) throws(ConfigurationError) -> any VendorTenant {
        let options = definition.options
        try options.refuseUnknownKeys(Self.tenantKeys, in: "tenant '\(definition.tenant)'")
        var headers: [HellotracksTenant.Header] = []
        if let node = options["headers"] {
            for (name, value) in try node.mapping(named: "headers") {
                guard ConfigNode.isHeaderName(name) else {
                    throw ConfigurationError(line: value.line, "headers: '\(name)' is not a valid HTTP header name")
                }
                if headers.contains(where: { $0.name.equalsIgnoringASCIICase(name) }) {
                    throw ConfigurationError(line: value.line, "headers: '\(name)' is given twice (names ignore case)")
                }
                headers.append(.init(name: name, values: try value.credentialValues(named: "headers['\(name)']")))
            }
        }
        let account = try options.optionalString("account")
        if let account, account.isEmpty {
            throw ConfigurationError(
                line: options["account"]?.line ?? options.line,
                "'account' is empty (omit it to accept callbacks for any Hellotracks account)"
            )
        }
        return HellotracksTenant(account: account, headers: headers)
    }

    /// The keys a Hellotracks tenant entry may have.
    static let tenantKeys = TenantDefinition.sharedKeys + ["account", "headers"]
}

/// Hellotracks actions and what they become.
enum HellotracksAction: String, CaseIterable {
    case jobCreated = "jobcreated"
    case jobUpdated = "jobupdated"
    case jobCompleted = "jobcompleted"
    case jobArchived = "jobarchived"
    case jobDeleted = "jobdeleted"
    case jobCheckIn = "jobcheckin"
    case jobCheckOut = "jobcheckout"
    case placeCheckIn = "placecheckin"
    case placeCheckOut = "placecheckout"
    case alertTriggered = "alerttriggered"

    var eventType: EventType {
        switch self {
        case .jobCreated: .jobCreated
        case .jobUpdated: .jobUpdated
        case .jobCompleted: .jobCompleted
        case .jobArchived: .jobArchived
        case .jobDeleted: .jobDeleted
        case .jobCheckIn: .jobCheckedIn
        case .jobCheckOut: .jobCheckedOut
        case .placeCheckIn: .placeCheckedIn
        case .placeCheckOut: .placeCheckedOut
        case .alertTriggered: .alertTriggered
        }
    }
}

struct HellotracksTenant: VendorTenant {
    /// A header Hellotracks must send, and every value it may carry (several while a secret is rotated; the first
    /// is the one `vendor-setup` registers).
    struct Header: Sendable {
        var name: String
        var values: [String]
    }

    /// The tenant's Hellotracks account name; nil accepts any `account` parameter.
    let account: String?
    let headers: [Header]

    var secretHeaderNames: [String] { headers.map(\.name) }

    /// Every configured header must be present with one of its values. Each header is compared against all of its
    /// values and every header is checked, so the time taken says nothing about which one failed or how.
    func authenticate(_ presented: RequestHeaders) -> CredentialFailure? {
        var failure: CredentialFailure?
        for header in headers {
            guard let value = presented[header.name] else {
                failure = failure ?? CredentialFailure("header '\(header.name)' is missing")
                continue
            }
            if !SecretComparison.matchesAny(value, header.values) {
                failure = failure ?? CredentialFailure("header '\(header.name)' does not match")
            }
        }
        return failure
    }

    func normalize(_ request: AdapterRequest) throws(AdapterError) -> AdaptedEvent {
        // Syntax (400): the form itself, then the JSON inside `data`.
        let form = try FormBody(parsing: request.body)
        var data: JSONElement?
        if let dataBytes = form.bytes("data"), !dataBytes.isEmpty {
            do {
                data = try JSONDocument(parsing: dataBytes).root
            } catch {
                throw AdapterError(error, context: "form field 'data'")
            }
        }
        // Account (401): a callback for another Hellotracks account must not land in this tenant.
        if let account, let presented = form["account"], presented != account {
            throw AdapterError(.accountMismatch, "form field 'account' names another Hellotracks account")
        }
        // Semantics (422).
        guard let id = form["id"], !id.isEmpty else { throw AdapterError.missing("id") }
        guard let actionText = form["action"], !actionText.isEmpty else { throw AdapterError.missing("action") }
        guard let data else { throw AdapterError.missing("data") }
        guard let action = HellotracksAction(rawValue: actionText) else {
            let known = HellotracksAction.allCases.map(\.rawValue).joined(separator: ", ")
            throw AdapterError(.unknownAction, "action '\(actionText)' is not a Hellotracks action (known: \(known))")
        }
        let mapping = HellotracksMapping(id: id, action: action, data: data)
        var event: AdaptedEvent
        switch action {
        case .jobCreated, .jobUpdated, .jobCompleted, .jobArchived, .jobDeleted, .jobCheckIn, .jobCheckOut:
            guard data.isArray, data.count > 0, data.elements.allSatisfy(\.isObject) else {
                throw AdapterError(
                    .invalidField,
                    "form field 'data' must be a non-empty array of job objects for action '\(actionText)'"
                )
            }
            event = mapping.job()
        case .placeCheckIn, .placeCheckOut:
            guard data.isObject else {
                throw AdapterError(.invalidField, "form field 'data' must be an object for action '\(actionText)'")
            }
            event = mapping.placeCheck()
        case .alertTriggered:
            guard data.object("alert") != nil else {
                throw AdapterError(.invalidField, "form field 'data' has no 'alert' object")
            }
            event = mapping.alert()
        }
        event.canonicalContent = Self.canonicalContent(form, data: data)
        return event
    }

    /// The decoded pairs sorted by key (then value), as a JSON array of `[key, value]` pairs with `data` replaced
    /// by its canonical JSON: encoding (`+` vs `%20`, hex case) and parameter order do not matter, an extra or
    /// missing parameter does. An array of pairs rather than an object keeps repeated unread parameters.
    static func canonicalContent(_ form: FormBody, data: JSONElement) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(form.decoded.count + form.pairs.count * 8 + 256)
        output.append(UInt8(ascii: "["))
        for (position, index) in form.sortedPairIndices().enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: [UInt8(ascii: "["), UInt8(ascii: "\"")])
            form.withPair(index) { key, value in
                JSONEscaping.appendEscaped(key, to: &output)
                output.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ",")])
                if key.elementsEqual("data".utf8) {
                    data.writeCanonical(into: &output)
                } else {
                    output.append(UInt8(ascii: "\""))
                    JSONEscaping.appendEscaped(value, to: &output)
                    output.append(UInt8(ascii: "\""))
                }
            }
            output.append(UInt8(ascii: "]"))
        }
        output.append(UInt8(ascii: "]"))
        return output
    }
}
