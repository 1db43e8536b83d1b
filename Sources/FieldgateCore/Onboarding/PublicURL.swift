package import FieldgateModel

import struct Foundation.URL
import struct Foundation.URLComponents

/// The address vendors reach the gateway at (`https://hooks.example.com`, or a path prefix behind a proxy), from
/// which every tenant's route URL is built.
package struct PublicURL: Sendable, Equatable, CustomStringConvertible {
    /// Scheme, host, optional port and path prefix, without a trailing slash.
    package let base: String

    /// Refuses what a vendor could not call or that would change the routes: another scheme, no host, a query,
    /// a fragment, credentials in the URL.
    package init(_ text: String) throws(ConfigurationError) {
        func refuse(_ reason: String) -> ConfigurationError {
            ConfigurationError(line: nil, "--public-url '\(text)' \(reason)")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw refuse("is not a URL")
        }
        guard scheme == "https" || scheme == "http" else { throw refuse("must be an http(s) URL") }
        guard let host = components.host, !host.isEmpty else { throw refuse("has no host") }
        guard components.query == nil, components.fragment == nil else {
            throw refuse("must not have a query or a fragment")
        }
        guard components.user == nil, components.password == nil else { throw refuse("must not carry credentials") }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    package var isHTTPS: Bool { base.lowercased().hasPrefix("https://") }

    /// `<base>/webhooks/<vendor>/<tenant>`: the tenant's bare route.
    package func webhookURL(vendor: String, tenant: String) -> String {
        base + IngestPipeline.routePrefix + vendor + "/" + tenant
    }

    /// The URL of one route: the bare route for `""`, else with `/<suffix>`.
    package func routeURL(vendor: String, tenant: String, suffix: String) -> String {
        let bare = webhookURL(vendor: vendor, tenant: tenant)
        return suffix.isEmpty ? bare : bare + "/" + suffix
    }

    package var description: String { base }
}
