import ArgumentParser
import FieldgateCore
import FieldgateModel
import FieldgateVendors

import struct Foundation.Date
import class Foundation.ProcessInfo

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `fieldgate normalize`: the server's pipeline, offline, over a corpus file.
struct Normalize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run corpus requests through the ingest pipeline and print one JSON result per line.",
        discussion: """
            Each line of CORPUS is one HTTP request (NDJSON with vendor, tenant, method, path, headers, body or \
            bodyBase64, and note). Requests run in order through the same checks, adapters and dedupe as the \
            server, with an in-memory store and one dedupe window.

            Output is one JSON line per request: {"line":N,"http":202,"outcome":"accepted|duplicate|rejected",\
            "id":…,"duplicateOf":…,"event":{…}|null,"problem":{…}|null}. For a duplicate, "id" and "event" \
            are the first accepted copy's and "duplicateOf" is its line number.

            A summary goes to standard error. The exit status is 1 if a corpus line could not be read as a \
            request, 2 if the configuration or corpus could not be opened.
            """
    )

    @Option(name: .shortAndLong, help: "The gateway configuration (tenants and credentials).")
    var config: String = "fieldgate.yaml"

    @Flag(help: "Indent each result for reading (one JSON document per request, no longer one per line).")
    var pretty = false

    @Option(
        help: ArgumentHelp(
            "Use this instant (RFC 3339) as every request's receipt time, for byte-identical output across runs.",
            valueName: "time"
        )
    )
    var receivedAt: String?

    @Argument(help: "The corpus file, or - for standard input.")
    var corpus: String

    func run() async throws {
        let configuration: GatewayConfiguration
        let directory: TenantDirectory
        do {
            configuration = try GatewayConfiguration.load(
                path: config,
                environment: ProcessInfo.processInfo.environment
            )
            directory = try TenantDirectory(configuration: configuration, adapters: BuiltInVendors.adapters)
        } catch {
            printError("fieldgate: \(error)")
            throw ExitCode(2)
        }
        guard let reader = LineReader(path: corpus) else {
            printError("fieldgate: cannot open corpus '\(corpus)'")
            throw ExitCode(2)
        }
        var clock: any WallClock = SystemWallClock()
        if let receivedAt {
            guard let instant = UTCTimestamp(rfc3339: receivedAt) else {
                printError("fieldgate: --received-at '\(receivedAt)' is not an RFC 3339 date-time")
                throw ExitCode(2)
            }
            clock = ManualWallClock(instant)
        }
        let pipeline = IngestPipeline(
            directory: directory,
            store: InMemoryEventStore(),
            clock: clock,
            maxBodyBytes: configuration.server.maxBodyBytes
        )
        var normalizer = CorpusNormalizer(pipeline: pipeline)
        let progress = standardErrorIsTerminal
        var lastProgress = Date()
        var standardOutput = StandardOutput()
        var number = 0
        while let bytes = reader.next() {
            number += 1
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let request: CorpusRequest
            do {
                request = try CorpusRequest(line: String(decoding: bytes, as: UTF8.self))
            } catch {
                normalizer.countInvalidLine()
                printError("fieldgate: corpus line \(number): \(error)")
                continue
            }
            let result = try await normalizer.normalize(line: number, request: request)
            var output = result.jsonBytes
            if pretty {
                output = Array(((try? JSONValue(parsing: output))?.prettyText() ?? "").utf8)
            }
            output.append(0x0A)
            standardOutput.write(output)
            if progress, Date().timeIntervalSince(lastProgress) >= 1 {
                lastProgress = Date()
                printError("\r\(number) lines…", newline: false)
            }
        }
        standardOutput.flush()
        let tally = normalizer.tally
        if progress { printError("\r", newline: false) }
        printError(
            "fieldgate normalize: \(number) lines: \(tally.accepted) accepted, \(tally.duplicate) duplicate, "
                + "\(tally.rejected) rejected, \(tally.invalidLines) unreadable"
        )
        if tally.invalidLines > 0 { throw ExitCode(1) }
    }
}
