import ArgumentParser
import FieldgateCore
import FieldgateModel
import FieldgateVendors

import class Foundation.FileManager
import class Foundation.ProcessInfo

/// `fieldgate check-config`: validate a configuration as `serve` would and show what to point vendors at.
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate fieldgate.yaml and list each tenant's route URLs and how it authenticates.",
        discussion: """
            Reads the file exactly as `fieldgate serve` does (${VAR} from the environment, every tenant through \
            its vendor's adapter) and refuses it the same way: the file, the line and the reason on standard \
            error, exit status 1. A valid file prints, per tenant, the URLs its vendor must call, the credential \
            kind (header names and how many values each accepts — never a secret) and the dedupe window.

            Routes are shown at --public-url, or at http://<server.host>:<server.port> without it.
            """
    )

    @Option(name: .shortAndLong, help: "The configuration to check.")
    var config: String = "fieldgate.yaml"

    @Option(help: ArgumentHelp("The address vendors reach the gateway at (https://…).", valueName: "url"))
    var publicURL: String?

    @Flag(help: "Print one JSON document (for scripts) instead of text.")
    var json = false

    func run() throws {
        do {
            let configuration = try GatewayConfiguration.load(
                path: config,
                environment: ProcessInfo.processInfo.environment
            )
            let check = try ConfigurationCheck(
                configuration: configuration,
                adapters: BuiltInVendors.adapters,
                publicURL: try publicURL.map { url throws(ConfigurationError) in try PublicURL(url) }
            )
            printOutput(json ? check.json.prettyText() : check.text)
        } catch {
            if json {
                var problem = JSONObject()
                problem["valid"] = false
                problem["file"] = .string(error.file)
                problem["line"] = error.line.map { .integer($0) } ?? .null
                problem["reason"] = .string(error.reason)
                printOutput(JSONValue.object(problem).prettyText())
            }
            printError("fieldgate: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `fieldgate vendor-setup`: what to register on the vendor's side for a tenant, from the vendor's adapter.
struct VendorSetupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vendor-setup",
        abstract: "Print what to register on the vendor's side for a tenant, and the fieldgate.yaml entry to add.",
        discussion: """
            Uses the tenant's secrets when fieldgate.yaml (or --config) has the tenant, and generates a strong \
            secret (32 random bytes) where it has none; then prints the registration calls or portal fields and \
            the tenant entry to add or replace. Secrets are printed: they are what the vendor must be given. \
            --json prints the same for scripts (every request body as JSON).

            \(BuiltInVendors.adapters.compactMap { ($0 as? any VendorOnboarding)?.setupOverview }
                .joined(separator: "\n\n"))
            """
    )

    @Argument(help: ArgumentHelp("The vendor: \(BuiltInVendors.slugs.joined(separator: ", ")).", valueName: "vendor"))
    var vendor: String

    @Option(help: "The tenant's slug (its path segment in /webhooks/<vendor>/<tenant>).")
    var tenant: String

    @Option(help: ArgumentHelp("The address vendors reach the gateway at (https://…).", valueName: "url"))
    var publicURL: String

    @Option(
        name: .shortAndLong,
        help: "The gateway configuration to take the tenant's secrets from (default: ./fieldgate.yaml if present)."
    )
    var config: String?

    @Flag(help: "Print one JSON document (for scripts) instead of text.")
    var json = false

    func validate() throws {
        guard BuiltInVendors.adapter(for: vendor) != nil else {
            throw ValidationError(
                "unknown vendor '\(vendor)' (expected one of: \(BuiltInVendors.slugs.joined(separator: ", ")))"
            )
        }
    }

    func run() throws {
        do {
            let url = try PublicURL(publicURL)
            var configuration: GatewayConfiguration?
            let path = config ?? (FileManager.default.fileExists(atPath: "fieldgate.yaml") ? "fieldgate.yaml" : nil)
            if let path {
                configuration = try GatewayConfiguration.load(
                    path: path,
                    environment: ProcessInfo.processInfo.environment
                )
            }
            let report = try VendorSetupReport(
                vendor: vendor,
                tenant: tenant,
                publicURL: url,
                configuration: configuration,
                adapters: BuiltInVendors.adapters
            )
            printOutput(json ? report.json.prettyText() : report.text)
        } catch {
            printError("fieldgate: \(error)")
            throw ExitCode(2)
        }
    }
}
