package import FieldgateModel

/// Setting up TrackTik Events Subscriptions for a tenant (TrackTik's "Events Subscriptions (Call-Outs, for
/// webhooks)" and "Dispatch Workflows, Instances and Logs" support articles): one subscription per entity and
/// trigger, each pointing at its own route, because a call-out names neither.
extension TrackTikAdapter: VendorOnboarding {
    /// One subscription per route, with what the mapping needs included as objects: a workflow log names its job
    /// only through an included `workflowInstance` (its `dispatchTask` included too, as TrackTik's guide
    /// recommends) and its step only through an included `status`; a dispatch task's current step is in its
    /// `workflowInstance`; report field values are only in an included `reportFields`.
    static let subscriptions: [(route: TrackTikRoute, include: [String], becomes: String)] = [
        (.workflowInstanceLogsCreated, logIncludes, "job.status_changed (a workflow step of a dispatch task)"),
        (.workflowInstanceLogsUpdated, logIncludes, "job.status_changed (a corrected workflow step)"),
        (.dispatchTasksCreated, ["workflowInstance"], "job.created"),
        (.dispatchTasksUpdated, ["workflowInstance"], "job.updated"),
        (.reportsCreated, ["reportFields"], "job.attachment_added"),
        (.reportsUpdated, ["reportFields"], "job.attachment_updated (a draft completed, an approval)"),
        (.employeesCreated, [], "account.created"),
        (.employeesUpdated, [], "account.updated"),
    ]

    static let logIncludes = ["status", "user", "workflowInstance", "workflowInstance.dispatchTask"]
    static let defaultHeaderName = "TrackTik-Callout-Secret"
    static let failureEmailPlaceholder = "REPLACE-ME@example.com"

    package var registeredRoutes: [String] { Self.subscriptions.map(\.route.rawValue) }

    package func credentialSummary(_ definition: TenantDefinition) -> String {
        guard let tenant = (try? makeTenant(definition)) as? TrackTikTenant else { return "invalid" }
        let count = tenant.secrets.count
        return "secret header '\(tenant.secretHeaderName)' "
            + (count == 1 ? "(exact value)" : "(any of \(count) values: rotation)")
    }

    package var setupOverview: String {
        """
        TrackTik: with an API service account's access token (POST https://<portal>/rest/oauth2/access_token), \
        create one Events Subscription per route with POST https://<portal>/rest/v1/events-subscriptions: \
        workflow-instance-logs created/updated, dispatch-tasks created/updated, reports created/updated, \
        employees created/updated. Each body names its own URL, the secret header and secret, a failure e-mail, \
        all regions (context.*) and the relations to include.
        """
    }

    package func setup(_ request: VendorSetupRequest) throws(ConfigurationError) -> VendorSetup {
        let headerName: String
        let secret: String
        var entry: String?
        if let existing = request.existing {
            guard let tenant = try makeTenant(existing) as? TrackTikTenant, let first = tenant.secrets.first else {
                throw ConfigurationError(line: existing.options.line, "tracktik tenant could not be read")
            }
            headerName = tenant.secretHeaderName
            secret = first
        } else {
            headerName = Self.defaultHeaderName
            secret = request.newSecret()
            entry = """
                - vendor: tracktik
                  tenant: \(ConfigText.quoted(request.tenant))
                  secretHeader:
                    name: \(ConfigText.quoted(headerName))
                    value: \(ConfigText.quoted(secret))
                """
        }
        let api = "https://<your-portal>/rest/v1"
        var steps = [
            VendorSetupStep(
                title: "Get an access token for TrackTik's REST API",
                detail: """
                    With the API service account TrackTik gave you (client id and secret, username and password): \
                    POST https://<your-portal>/rest/oauth2/access_token, form-encoded, with grant_type=password, \
                    client_id, client_secret, username and password. Use the access_token it returns below. \
                    <your-portal> is your portal's domain (e.g. northwind.staffr.net).
                    """
            )
        ]
        for subscription in Self.subscriptions {
            let route = subscription.route.rawValue
            let parts = route.split(separator: "/")
            var body = JSONObject()
            body["customId"] = .string("fieldgate-\(request.tenant)-\(parts.joined(separator: "-"))")
            body["name"] = .string("Fieldgate \(request.tenant): \(parts.joined(separator: " "))")
            body["events"] = .array([.string("entity:\(parts[0]):\(parts[1])")])
            if !subscription.include.isEmpty {
                body["entityResponse"] = .object(["include": .array(subscription.include.map { .string($0) })])
            }
            body["contextFilters"] = .object([
                "filters": .array([.object(["tag": "context.*", "includeChildren": true])])
            ])
            body["url"] = .string(request.url(route))
            body["secretHeaderName"] = .string(headerName)
            body["secret"] = .string(secret)
            body["failureEmail"] = .string(Self.failureEmailPlaceholder)
            steps.append(
                VendorSetupStep(
                    title: "Subscribe to \(parts[0]) \(parts[1])",
                    detail: "Becomes \(subscription.becomes).",
                    call: VendorAPICall(
                        method: "POST",
                        url: api + "/events-subscriptions",
                        headers: [
                            VendorSetupField("Authorization", "Bearer <access_token>"),
                            VendorSetupField("Content-Type", "application/json"),
                        ],
                        body: .object(body)
                    )
                )
            )
        }
        steps.append(
            VendorSetupStep(
                title: "Check the subscriptions",
                detail: """
                    GET \(api)/events-subscriptions lists them. Create a dispatch task in the portal and look for \
                    it with GET /v1/events?vendor=tracktik&tenant=\(request.tenant) on the gateway; a call-out the \
                    gateway refuses is in GET /v1/quarantine, and TrackTik writes to failureEmail.
                    """
            )
        )
        return VendorSetup(
            summary: """
                TrackTik calls one URL per entity and trigger and sends the secret in the header \
                '\(headerName)'. Create the \(Self.subscriptions.count) subscriptions below; every body is ready to \
                send except failureEmail.
                """,
            steps: steps,
            tenantEntry: entry,
            generatedSecret: entry != nil,
            notes: [
                "Replace failureEmail (\(Self.failureEmailPlaceholder)) with an address you monitor: TrackTik writes"
                    + " there when call-outs to the gateway fail.",
                "contextFilters uses context.*, which TrackTik documents as ignoring regional contexts (every"
                    + " region). To follow one region tree instead, use {\"tag\": \"context.region.<id>\","
                    + " \"includeChildren\": true}. Not confirmed: whether includeChildren matters with context.*.",
                "Not confirmed from TrackTik's public articles: the /rest/v1 prefix of the REST API (they show"
                    + " [POST] /events-subscriptions and https://<domain>/rest/oauth2/access_token); use the base URL"
                    + " of your portal's API documentation if it differs.",
                "The route …/workflow-instance-logs (no trigger) also works, for one subscription that lists both"
                    + " workflow-log triggers. Do not register it beside the two above: each log would arrive twice,"
                    + " as two different events (the route is part of the dedupe key).",
                "Rotating the secret: add the new one first in secretHeader.values (the old one after it), restart,"
                    + " update every subscription's secret in TrackTik, then remove the old value. Not confirmed:"
                    + " which method TrackTik's API offers for changing an existing subscription; recreating the"
                    + " subscription with the new secret and archiving the old one"
                    + " (/events-subscriptions/{id}/actions/archive) also works.",
            ]
        )
    }
}
