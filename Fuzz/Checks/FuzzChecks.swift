import FieldgateModel
import FieldgateVendors

/// What each fuzz target does with one input, shared with the regression tests that replay the inputs a fuzzer
/// once found: every function here must return normally for any bytes, and traps (through `precondition`) when
/// an invariant breaks, which libFuzzer reports as a crash with the input that caused it.
///
/// The invariants, beyond "no crash, no hang": the canonical form of a parsed text parses again and is its own
/// canonical form; the compact form means the same; lookups through ``JSONMemberIndex`` answer as the scan does;
/// what an adapter accepts has canonical content and a `detail` that is valid JSON.
package enum FuzzChecks {
    /// The strict JSON parser, the canonical and compact forms, member lookups, the owned value.
    package static func json(_ bytes: [UInt8]) {
        guard let document = try? JSONDocument(parsing: bytes) else { return }
        let root = document.root
        let canonical = root.canonicalBytes
        guard let reparsed = try? JSONDocument(parsing: canonical) else {
            preconditionFailure("the canonical form does not parse: \(String(decoding: canonical, as: UTF8.self))")
        }
        precondition(reparsed.root.canonicalBytes == canonical, "the canonical form is not its own canonical form")
        var compact: [UInt8] = []
        root.writeCompact(into: &compact)
        guard let compacted = try? JSONDocument(parsing: compact) else {
            preconditionFailure("the compact form does not parse")
        }
        precondition(compacted.root.canonicalBytes == canonical, "the compact form means something else")
        precondition(compact.count <= bytes.count && canonical.count <= bytes.count, "a form is longer than the text")
        if root.isObject {
            let index = JSONMemberIndex(root)
            for (key, value) in root.members {
                precondition(root[key]?.canonicalBytes == value.canonicalBytes, "a scanned lookup misses '\(key)'")
                precondition(index[key]?.canonicalBytes == value.canonicalBytes, "an indexed lookup misses '\(key)'")
            }
            precondition(index["\u{0}fieldgate-absent"] == nil && root["\u{0}fieldgate-absent"] == nil)
        }
        var owned: [UInt8] = []
        root.value.write(into: &owned)
        guard let value = try? JSONDocument(parsing: owned) else { preconditionFailure("the owned value's JSON") }
        precondition(value.root.canonicalBytes == canonical, "the owned value means something else")
    }

    /// A Hellotracks callback: form decoding, the JSON in `data`, the mapping, the canonical content.
    package static func hellotracks(_ bytes: [UInt8]) {
        normalize(bytes, tenant: Self.hellotracks, routeSuffix: "")
    }

    /// A TechLink event: the mapping, note rendering, status names, local times.
    package static func techLink(_ bytes: [UInt8]) {
        normalize(bytes, tenant: Self.techLink, routeSuffix: "")
    }

    /// A TrackTik call-out, on each route in turn (the first byte picks it, so the fuzzer explores every one).
    package static func trackTik(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let route = trackTikRoutes[Int(first) % trackTikRoutes.count]
        normalize(Array(bytes.dropFirst()), tenant: Self.trackTik, routeSuffix: route)
    }

    static let trackTikRoutes = [
        "workflow-instance-logs", "workflow-instance-logs/created", "workflow-instance-logs/updated",
        "dispatch-tasks/created", "dispatch-tasks/updated", "reports/created", "reports/updated", "employees/created",
        "employees/updated", "clients/created",
    ]

    static func normalize(_ bytes: [UInt8], tenant: any VendorTenant, routeSuffix: String) {
        let request = AdapterRequest(routeSuffix: routeSuffix, headers: RequestHeaders(), body: bytes)
        guard let adapted = try? tenant.normalize(request) else { return }
        precondition(!adapted.canonicalContent.isEmpty, "an accepted request has no canonical content")
        var detail: [UInt8] = []
        adapted.detail.write(into: &detail)
        guard (try? JSONDocument(parsing: detail))?.root.isObject == true else {
            preconditionFailure("detail is not a JSON object: \(String(decoding: detail, as: UTF8.self))")
        }
    }

    // MARK: Tenants

    static func tenant(_ vendor: String, _ options: [(String, ConfigNode)]) -> any VendorTenant {
        let node = ConfigNode.mapping(
            [("vendor", .scalar(vendor, line: 1)), ("tenant", .scalar("fuzz", line: 1))] + options.map { ($0.0, $0.1) },
            line: 1
        )
        let definition = TenantDefinition(vendor: vendor, tenant: "fuzz", options: node)
        guard let adapter = BuiltInVendors.adapter(for: vendor), let tenant = try? adapter.makeTenant(definition) else {
            preconditionFailure("the fuzz tenant for \(vendor) is not a valid configuration")
        }
        return tenant
    }

    static let hellotracks = tenant("hellotracks", [])
    static let techLink = tenant("techlink", [])
    static let trackTik = tenant(
        "tracktik",
        [
            (
                "secretHeader",
                .mapping([("name", .scalar("X-Secret", line: 1)), ("value", .scalar("fuzz", line: 1))], line: 1)
            ),
            ("statusNames", .mapping([("Guard Dispatched", .scalar("dispatched", line: 1))], line: 1)),
        ]
    )
}
