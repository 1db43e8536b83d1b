import ArgumentParser

/// The `fieldgate` command: the composition root that wires the gateway together (its vendors: FieldgateVendors).
@main
struct Fieldgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fieldgate",
        abstract: "Cross-vendor webhook normalization gateway for field-service events.",
        discussion: """
            Receives TrackTik, Hellotracks and TechLink webhooks, verifies them, turns each into one canonical
            CloudEvents job/status event, dedupes and stores it.
            """,
        subcommands: [
            Serve.self, Normalize.self, ReplayCommand.self, CorpusCommand.self, CheckConfig.self,
            VendorSetupCommand.self, StoreCommand.self,
        ]
    )
}
