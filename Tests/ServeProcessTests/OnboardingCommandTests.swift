import FieldgateModel
import FieldgateTestSupport
import Foundation
import Testing

/// `fieldgate vendor-setup` and `fieldgate check-config` as an operator runs them: the real binary, its exit
/// status, what goes to standard output and what to standard error.
@Suite("Onboarding commands")
struct OnboardingCommandTests {
    struct Run {
        var status: Int32
        var output: String
        var error: String
    }

    func run(_ arguments: [String], in directory: TemporaryDirectory, environment: [String: String] = [:]) throws -> Run
    {
        let process = Process()
        process.executableURL = ServeProcess.executable
        process.arguments = arguments
        process.currentDirectoryURL = directory.url
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            output: String(decoding: outputData, as: UTF8.self),
            error: String(decoding: errorData, as: UTF8.self)
        )
    }

    @Test func vendorSetupJSONIsOneDocumentWhoseTenantEntryServeAccepts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let setup = try run(
            [
                "vendor-setup", "tracktik", "--tenant", "harbor-guard", "--public-url", "https://hooks.example.com",
                "--json",
            ],
            in: directory
        )
        #expect(setup.status == 0, "\(setup.error)")
        let document = try JSONValue(parsing: Array(setup.output.utf8))
        let entry = try #require(document["tenantEntry"]?["yaml"]?.stringValue)
        #expect(document["tenantEntry"]?["action"]?.stringValue == "add")
        #expect(document["steps"]?.arrayValue?.compactMap { $0["request"]?["body"]?["url"]?.stringValue }.count == 8)

        // The printed entry, pasted into a configuration, passes check-config.
        let yaml = "tenants:\n" + entry.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        try RepositoryPaths.write(Array(yaml.utf8), to: directory.path("fieldgate.yaml"))
        let check = try run(["check-config", "--json"], in: directory)
        #expect(check.status == 0, "\(check.error)")
        let checked = try JSONValue(parsing: Array(check.output.utf8))
        #expect(checked["tenants"]?.arrayValue?.first?["tenant"]?.stringValue == "harbor-guard")

        // With that configuration in place, vendor-setup uses its secret and has nothing to add.
        let again = try run(
            [
                "vendor-setup", "tracktik", "--tenant", "harbor-guard", "--public-url", "https://hooks.example.com",
                "--json",
            ],
            in: directory
        )
        let second = try JSONValue(parsing: Array(again.output.utf8))
        #expect(second["tenantEntry"]?["action"]?.stringValue == "none")
        #expect(second["generatedSecret"] == .bool(false))
        let secret = second["steps"]?.arrayValue?.compactMap { $0["request"]?["body"]?["secret"]?.stringValue }.first
        #expect(secret != nil && entry.contains(secret!))
    }

    @Test func vendorSetupHelpExplainsEveryVendor() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let help = try run(["vendor-setup", "--help"], in: directory)
        #expect(help.status == 0)
        for text in [
            "events-subscriptions", "setwebhooks", "api@hellotracks.com", "Webhooks", "sandbox.techlinksvc.net",
        ] {
            #expect(help.output.contains(text), "--help does not mention \(text)")
        }
    }

    @Test func vendorSetupRefusesAnUnknownVendorAndABadURL() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let vendor = try run(
            ["vendor-setup", "acme", "--tenant", "t", "--public-url", "https://h.example"],
            in: directory
        )
        #expect(vendor.status != 0)
        #expect(vendor.error.contains("unknown vendor 'acme'"))
        let url = try run(
            ["vendor-setup", "techlink", "--tenant", "t", "--public-url", "hooks.example.com"],
            in: directory
        )
        #expect(url.status == 2)
        #expect(url.error.contains("--public-url"))
    }

    @Test func checkConfigRefusesAnEmptyCredentialWithFileLineAndReason() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let yaml = """
            tenants:
              - vendor: tracktik
                tenant: t
                secretHeader: {name: X-S, value: "${TT_SECRET}"}
            """
        try RepositoryPaths.write(Array(yaml.utf8), to: directory.path("gw.yaml"))
        let check = try run(["check-config", "--config", "gw.yaml"], in: directory, environment: ["TT_SECRET": ""])
        #expect(check.status == 1)
        #expect(check.error.contains("gw.yaml:4: environment variable TT_SECRET is set but empty"), "\(check.error)")
        #expect(check.output.isEmpty)

        let filled = try run(["check-config", "--config", "gw.yaml"], in: directory, environment: ["TT_SECRET": "s3"])
        #expect(filled.status == 0, "\(filled.error)")
        #expect(filled.output.contains("tracktik/t"))
        #expect(!filled.output.contains("s3\n") && !filled.output.contains("'s3'"))
    }
}
