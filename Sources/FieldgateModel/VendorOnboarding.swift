/// What an adapter tells an operator about pointing its vendor at the gateway: the routes a tenant registers,
/// how a configured tenant authenticates, and what to set up on the vendor's side.
///
/// `fieldgate check-config` and `fieldgate vendor-setup` read it; the core only renders what the adapter returns,
/// so vendor knowledge (API paths, field names, includes) stays in the adapter and adding a vendor never touches
/// the core. Adopting it is optional: the commands say when a vendor has nothing to offer.
public protocol VendorOnboarding: Sendable {
    /// The route suffixes (after `/webhooks/<vendor>/<tenant>`) a vendor's registrations point at; `""` is the
    /// tenant's bare route.
    var registeredRoutes: [String] { get }

    /// How a tenant that ``VendorAdapter/makeTenant(_:)`` accepted authenticates: the kind, the header names and
    /// how many values each accepts. Never a secret.
    func credentialSummary(_ definition: TenantDefinition) -> String

    /// A few sentences for `fieldgate vendor-setup --help`: what an operator does on the vendor's side.
    var setupOverview: String { get }

    /// What to register on the vendor's side for one tenant, and the `fieldgate.yaml` entry that goes with it.
    /// Uses the tenant's configured secrets when it has them and ``VendorSetupRequest/newSecret`` where it has
    /// none.
    func setup(_ request: VendorSetupRequest) throws(ConfigurationError) -> VendorSetup
}

/// The input of ``VendorOnboarding/setup(_:)``.
public struct VendorSetupRequest: Sendable {
    /// The tenant's slug.
    public var tenant: String
    /// `<public URL>/webhooks/<vendor>/<tenant>`: the tenant's bare route, as the vendor must call it.
    public var webhookURL: String
    /// The tenant's entry in `fieldgate.yaml`, when the configuration has one.
    public var existing: TenantDefinition?
    /// A new strong secret on every call (at least 32 random bytes as URL-safe text), for tenants without one.
    public var newSecret: @Sendable () -> String

    public init(
        tenant: String,
        webhookURL: String,
        existing: TenantDefinition?,
        newSecret: @escaping @Sendable () -> String
    ) {
        self.tenant = tenant
        self.webhookURL = webhookURL
        self.existing = existing
        self.newSecret = newSecret
    }

    /// The URL of one of the tenant's routes: the bare route for `""`, else `<webhookURL>/<suffix>`.
    public func url(_ routeSuffix: String) -> String {
        routeSuffix.isEmpty ? webhookURL : webhookURL + "/" + routeSuffix
    }
}

/// What to do on the vendor's side for one tenant, step by step, and what to put in `fieldgate.yaml`.
public struct VendorSetup: Sendable {
    /// One paragraph: what the vendor calls and how it proves who it is.
    public var summary: String
    public var steps: [VendorSetupStep]
    /// The `fieldgate.yaml` entry (a YAML list item under `tenants:`) that goes with the registrations; nil when
    /// the tenant is configured already and nothing has to change.
    public var tenantEntry: String?
    /// Whether a secret in the registrations was generated now (and therefore is in `tenantEntry` only).
    public var generatedSecret: Bool
    /// Caveats, including every vendor fact the adapter's authors could not confirm from the vendor's documents.
    public var notes: [String]

    public init(
        summary: String,
        steps: [VendorSetupStep],
        tenantEntry: String?,
        generatedSecret: Bool,
        notes: [String]
    ) {
        self.summary = summary
        self.steps = steps
        self.tenantEntry = tenantEntry
        self.generatedSecret = generatedSecret
        self.notes = notes
    }
}

/// One thing to do on the vendor's side: an API call to make, or a form to fill in, or both described in prose.
public struct VendorSetupStep: Sendable {
    public var title: String
    public var detail: String
    /// The API call to make, when the vendor is set up through its API.
    public var call: VendorAPICall?
    /// Form fields to fill in, when the vendor is set up in its portal.
    public var fields: [VendorSetupField]

    public init(title: String, detail: String, call: VendorAPICall? = nil, fields: [VendorSetupField] = []) {
        self.title = title
        self.detail = detail
        self.call = call
        self.fields = fields
    }
}

/// An HTTP request to the vendor's API; header values in angle brackets are for the operator to fill in.
public struct VendorAPICall: Sendable {
    public var method: String
    public var url: String
    public var headers: [VendorSetupField]
    public var body: JSONValue?

    public init(method: String, url: String, headers: [VendorSetupField] = [], body: JSONValue?) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A named value: a form field, a header.
public struct VendorSetupField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// `fieldgate.yaml` text written by adapters: every value double-quoted (a JSON string is a valid YAML
/// double-quoted scalar), so no slug, header name or secret can change the structure around it.
public enum ConfigText {
    public static func quoted(_ text: String) -> String {
        JSONValue.string(text).jsonText
    }

    /// A YAML flow sequence of quoted strings: `["a", "b"]`.
    public static func list(_ values: [String]) -> String {
        "[" + values.map(quoted).joined(separator: ", ") + "]"
    }
}
