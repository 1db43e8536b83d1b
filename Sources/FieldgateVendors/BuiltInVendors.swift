package import FieldgateModel
import HellotracksAdapter
import TechLinkAdapter
import TrackTikAdapter

/// The one list of vendors this build supports, for the executable, the tests and the benchmarks alike.
///
/// Adding a vendor: a target under `Adapters/<Vendor>/`, a dependency of this target in `Package.swift`, and one
/// line here. The pipeline, the executable and the tests that run "every vendor" do not change.
package enum BuiltInVendors {
    package static let adapters: [any VendorAdapter] = [
        TrackTikAdapter(),
        HellotracksAdapter(),
        TechLinkAdapter(),
    ]

    /// The adapter for a vendor slug (`tracktik`), or nil when this build does not know the vendor.
    package static func adapter(for vendor: String) -> (any VendorAdapter)? {
        adapters.first { $0.vendor == vendor }
    }

    /// Every vendor slug, in the list's order.
    package static var slugs: [String] { adapters.map(\.vendor) }
}
