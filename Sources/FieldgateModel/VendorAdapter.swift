/// One vendor's webhook dialect: its routes, tenant options, credentials and payload mapping.
///
/// The gateway core knows vendors only through this protocol, so adding a vendor is a new target under
/// `Adapters/` and one line in `FieldgateVendors` — never a change to the pipeline or the executable.
public protocol VendorAdapter: Sendable {
    /// The vendor's slug in routes, event sources and event IDs, e.g. `tracktik`. Never changes.
    var vendor: String { get }

    /// The media type (lowercase, without parameters) the vendor's callbacks carry.
    var mediaType: String { get }

    /// How long a delivery's dedupe key counts, unless the tenant configures its own window.
    var defaultDedupeWindow: Duration { get }

    /// The route suffix for the path segments after `/webhooks/<vendor>/<tenant>`, or nil when the path has
    /// no route at all (404). A suffix the vendor cannot handle is reported later, by ``VendorTenant/normalize(_:)``,
    /// as `unsupported-route` (422), so that the request is authenticated and quarantined first.
    func routeSuffix(for segments: [Substring]) -> String?

    /// Reads one tenant's vendor-specific options (secrets, accounts, status names).
    func makeTenant(_ definition: TenantDefinition) throws(ConfigurationError) -> any VendorTenant
}

/// A configured tenant of one vendor: checks credentials and turns requests into events.
public protocol VendorTenant: Sendable {
    /// Checks the request's credentials; nil when they are good. Compares secrets in constant time.
    func authenticate(_ headers: RequestHeaders) -> CredentialFailure?

    /// Names of headers that carry secrets and must be redacted before a request is stored or logged.
    var secretHeaderNames: [String] { get }

    /// Parses and maps the request; throws syntax (400), account (401) and semantic (422) errors in that order.
    func normalize(_ request: AdapterRequest) throws(AdapterError) -> AdaptedEvent
}

/// Why credentials were refused. The detail names the header, never its value.
public struct CredentialFailure: Sendable, Equatable, CustomStringConvertible {
    public var detail: String

    public init(_ detail: String) { self.detail = detail }

    public var description: String { detail }
}

/// What the core hands an adapter once routing, credentials, size and media type have been checked.
public struct AdapterRequest: Sendable {
    public var routeSuffix: String
    public var headers: RequestHeaders
    /// The body; non-empty and within the size limit.
    public var body: [UInt8]

    public init(routeSuffix: String, headers: RequestHeaders, body: [UInt8]) {
        self.routeSuffix = routeSuffix
        self.headers = headers
        self.body = body
    }
}

/// The tenant entry of `fieldgate.yaml`: the keys every vendor shares, plus the node to read the rest from.
public struct TenantDefinition: Sendable {
    public var vendor: String
    public var tenant: String
    public var dedupeWindow: Duration?
    /// The whole tenant mapping, for vendor-specific keys.
    public var options: ConfigNode

    /// The keys every tenant entry may have, whatever its vendor; an adapter adds its own and refuses the rest
    /// (``ConfigNode/refuseUnknownKeys(_:in:)``).
    public static let sharedKeys = ["vendor", "tenant", "dedupeWindow"]

    public init(vendor: String, tenant: String, dedupeWindow: Duration? = nil, options: ConfigNode) {
        self.vendor = vendor
        self.tenant = tenant
        self.dedupeWindow = dedupeWindow
        self.options = options
    }
}

/// The vendor-specific half of a canonical event, before the core adds identity, source and receipt time.
public struct AdaptedEvent: Sendable {
    public var type: EventType
    /// The vendor's own name for what happened: TrackTik's route, Hellotracks' action, TechLink's event.
    public var vendorEvent: String
    /// The job the event concerns; nil for site, account, place and alert events. Its `key` is the gateway's
    /// to set.
    public var job: JobState?
    /// When it happened according to the payload; nil when the payload does not say.
    public var occurredAt: UTCTimestamp?
    public var detail: JSONObject
    /// The delivery's canonical content (CONTRACT §2): the input to the dedupe key.
    public var canonicalContent: [UInt8]

    public init(
        type: EventType,
        vendorEvent: String,
        job: JobState?,
        occurredAt: UTCTimestamp?,
        detail: JSONObject,
        canonicalContent: [UInt8]
    ) {
        self.type = type
        self.vendorEvent = vendorEvent
        self.job = job
        self.occurredAt = occurredAt
        self.detail = detail
        self.canonicalContent = canonicalContent
    }
}
