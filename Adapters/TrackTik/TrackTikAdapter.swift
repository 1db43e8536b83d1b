package import FieldgateModel

/// TrackTik Events Subscriptions: JSON call-outs of entity records, authenticated by a per-tenant secret header.
///
/// TrackTik's call-outs name neither the entity nor the trigger, so each subscription points at its own route
/// (`/webhooks/tracktik/<tenant>/<entity>/<trigger>`) and the route decides how the body is read.
package struct TrackTikAdapter: VendorAdapter {
    package init() {}

    package var vendor: String { "tracktik" }
    package var mediaType: String { "application/json" }
    package var defaultDedupeWindow: Duration { .seconds(7 * 86_400) }

    package func routeSuffix(for segments: [Substring]) -> String? {
        guard (1...2).contains(segments.count), segments.allSatisfy({ !$0.isEmpty }) else { return nil }
        return segments.joined(separator: "/")
    }

    package func makeTenant(_ definition: TenantDefinition) throws(ConfigurationError) -> any VendorTenant {
        let options = definition.options
        try options.refuseUnknownKeys(Self.tenantKeys, in: "tenant '\(definition.tenant)'")
        guard let secretNode = options["secretHeader"] else {
            throw ConfigurationError(
                line: options.line,
                "tracktik tenant '\(definition.tenant)' needs secretHeader {name, value} (or {name, values: [...]})"
            )
        }
        try secretNode.refuseUnknownKeys(["name", "value", "values"], in: "secretHeader")
        let headerName = try secretNode.headerName("name")
        let secrets: [String]
        switch (secretNode["value"], secretNode["values"]) {
        case (let value?, nil): secrets = try value.credentialValues(named: "secretHeader.value")
        case (nil, let values?): secrets = try values.credentialValues(named: "secretHeader.values")
        case (nil, nil): throw ConfigurationError(line: secretNode.line, "missing required key 'value' (or 'values')")
        case (_?, let values?):
            throw ConfigurationError(line: values.line, "secretHeader has both 'value' and 'values': use one")
        }
        var names: [String: JobStatus] = [:]
        if let statusNames = options["statusNames"] {
            for (name, node) in try statusNames.mapping(named: "statusNames") {
                guard let raw = node.scalar, let status = JobStatus(rawValue: raw) else {
                    throw ConfigurationError(
                        line: node.line,
                        "statusNames['\(name)'] must be one of: \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                names[name] = status
            }
        }
        return TrackTikTenant(
            secretHeaderName: headerName,
            secrets: secrets,
            tenantStatusNames: StatusNameTable(names: names)
        )
    }

    /// The keys a TrackTik tenant entry may have.
    static let tenantKeys = TenantDefinition.sharedKeys + ["secretHeader", "statusNames"]
}

/// The entity/trigger combinations TrackTik can call out that the gateway maps.
enum TrackTikRoute: String, CaseIterable {
    case workflowInstanceLogs = "workflow-instance-logs"
    case workflowInstanceLogsCreated = "workflow-instance-logs/created"
    case workflowInstanceLogsUpdated = "workflow-instance-logs/updated"
    case dispatchTasksCreated = "dispatch-tasks/created"
    case dispatchTasksUpdated = "dispatch-tasks/updated"
    case reportsCreated = "reports/created"
    case reportsUpdated = "reports/updated"
    case employeesCreated = "employees/created"
    case employeesUpdated = "employees/updated"
}

struct TrackTikTenant: VendorTenant {
    let secretHeaderName: String
    /// Every secret the header may carry: one, or several while a rotation is under way (the first is the one
    /// `vendor-setup` registers).
    let secrets: [String]
    let tenantStatusNames: StatusNameTable

    var secretHeaderNames: [String] { [secretHeaderName] }

    func authenticate(_ headers: RequestHeaders) -> CredentialFailure? {
        guard let presented = headers[secretHeaderName] else {
            return CredentialFailure("secret header '\(secretHeaderName)' is missing")
        }
        guard SecretComparison.matchesAny(presented, secrets) else {
            return CredentialFailure("secret header '\(secretHeaderName)' does not match")
        }
        return nil
    }

    func normalize(_ request: AdapterRequest) throws(AdapterError) -> AdaptedEvent {
        let body = try JSONDocument.parseObjectBody(request.body)
        guard let route = TrackTikRoute(rawValue: request.routeSuffix) else {
            let supported = TrackTikRoute.allCases.map(\.rawValue).joined(separator: ", ")
            throw AdapterError(
                .unsupportedRoute,
                "TrackTik subscription '\(request.routeSuffix)' is not supported (supported: \(supported))"
            )
        }
        let entity = JSONMemberIndex(Self.entity(of: body))
        guard let entityID = entity.text("id") else {
            throw AdapterError(.missingField, "the \(route.entityName) entity has no 'id'")
        }
        let mapping = TrackTikMapping(entity: entity, entityID: entityID, tenantStatusNames: tenantStatusNames)
        var event = mapping.adapt(route)
        event.canonicalContent = body.canonicalBytes
        return event
    }

    /// The entity is the body itself, or `body.data` when the top level has no `id` and `data` is an object
    /// (TrackTik's `{"data": …}` and `{"meta": …, "data": …}` envelopes).
    static func entity(of body: JSONElement) -> JSONElement {
        if let id = body["id"], !id.isNull { return body }
        return body.object("data") ?? body
    }
}

extension TrackTikRoute {
    var entityName: String {
        switch self {
        case .workflowInstanceLogs, .workflowInstanceLogsCreated, .workflowInstanceLogsUpdated: "workflow instance log"
        case .dispatchTasksCreated, .dispatchTasksUpdated: "dispatch task"
        case .reportsCreated, .reportsUpdated: "report"
        case .employeesCreated, .employeesUpdated: "employee"
        }
    }
}
