import ArgumentParser
import FieldgateCore
import FieldgateLoad
import FieldgateModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `fieldgate replay`: load-test a gateway with a corpus.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send corpus requests to a gateway over keep-alive connections and report throughput and latency.",
        discussion: """
            Closed loop by default (--concurrency requests in flight); --rate R switches to an open loop that \
            sends R requests per second on a fixed schedule and measures each latency from its intended start \
            (no coordinated omission). Without --duration or --repeat the corpus is sent once. --vary-ids \
            rewrites vendor IDs on every pass after the first, so repeated passes are new events rather than \
            duplicates. A progress line is shown on a terminal; the report goes to standard output (--json for \
            machines). Latencies come from an HdrHistogram (3 significant digits).
            """
    )

    @Argument(help: "The corpus (NDJSON, one request per line; CONTRACT §6).")
    var corpus: String

    @Option(help: "The gateway's base URL, e.g. http://127.0.0.1:8080 (plain HTTP/1.1).")
    var target: String

    @Option(help: "Closed loop: requests in flight.")
    var concurrency: Int = 16

    @Option(help: ArgumentHelp("Open loop: requests per second.", valueName: "rate"))
    var rate: Double?

    @Option(
        help:
            "Open loop: the most requests in flight (one connection each); due requests wait for a free one, their latency counted from when they were due."
    )
    var maxInFlight: Int = 512

    @Option(help: ArgumentHelp("Run this long (e.g. 30s, 5m).", valueName: "duration"))
    var duration: String?

    @Option(name: .customLong("repeat"), help: "Passes over the corpus.")
    var repeatCount: Int?

    @Flag(help: "Shuffle each pass (deterministically, by --seed).")
    var shuffle = false

    @Flag(name: .customLong("vary-ids"), help: "Rewrite vendor IDs on every pass after the first.")
    var varyIDs = false

    @Option(help: "Seed for --shuffle.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Per-request timeout.", valueName: "duration"))
    var timeout: String = "30s"

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        if let duration, DurationText.parse(duration) == nil {
            throw ValidationError("--duration '\(duration)' is not a duration")
        }
        if let repeatCount, repeatCount < 1 { throw ValidationError("--repeat must be at least 1") }
        guard DurationText.parse(timeout) != nil else {
            throw ValidationError("--timeout '\(timeout)' is not a duration")
        }
        do {
            _ = try ReplayTarget(target)
        } catch {
            throw ValidationError("--target: \(error)")
        }
        guard maxInFlight > 0 else { throw ValidationError("--max-in-flight must be at least 1") }
    }

    func run() async throws {
        guard let reader = LineReader(path: corpus) else {
            printError("fieldgate: cannot open corpus '\(corpus)'")
            throw ExitCode(2)
        }
        var requests: [CorpusRequest] = []
        var number = 0
        while let line = reader.next() {
            number += 1
            guard !line.isEmpty else { continue }
            do {
                requests.append(try CorpusRequest(line: String(decoding: line, as: UTF8.self)))
            } catch {
                printError("fieldgate: \(corpus):\(number): \(error)")
                throw ExitCode(2)
            }
        }
        guard !requests.isEmpty else {
            printError("fieldgate: \(corpus) has no requests")
            throw ExitCode(2)
        }
        var options = Replay.Options(target: target.hasSuffix("/") ? String(target.dropLast()) : target)
        options.load = rate.map { .open(rate: $0, maximumInFlight: maxInFlight) } ?? .closed(concurrency: concurrency)
        options.duration = duration.flatMap(DurationText.parse)
        options.repeatCount = repeatCount
        options.shuffle = shuffle
        options.varyIDs = varyIDs
        options.seed = seed
        options.timeout = DurationText.parse(timeout) ?? .seconds(30)

        let terminal = isatty(STDERR_FILENO) == 1
        let report = try await Replay(requests: requests, options: options).run { progress in
            guard terminal else { return }
            let line = String(
                format: "\r  %d sent  %.0f req/s  202: %d  other: %d  p99 %.2f ms   ",
                progress.sent,
                progress.requestsPerSecond,
                progress.accepted + progress.duplicate,
                progress.rejected + progress.failed,
                progress.milliseconds(atPercentile: 99)
            )
            printError(line, newline: false)
        }
        if terminal { printError("") }
        printOutput(json ? report.json.jsonText : report.text)
    }
}

/// `fieldgate corpus …`: corpus tooling.
struct CorpusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Corpus tooling.",
        subcommands: [Generate.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a deterministic, realistic corpus of any size to standard output.",
            discussion: """
                Job lifecycles per vendor and tenant are built from the accepted requests of a seed corpus (the \
                shared dev corpus by default) with their IDs rewritten per job; a share of lines are vendor \
                retries (duplicates) and bad inputs (415, or 400 for JSON vendors). The same --seed gives the same \
                corpus byte for byte. Lines are written as they are made, so any size needs no memory. Replay the \
                result with the seed corpus's configuration.
                """
        )

        @Option(help: "How many lines to write.")
        var events: Int

        @Option(help: "The seed: the same seed gives the same corpus.")
        var seed: UInt64 = 1

        @Option(help: "The corpus whose shapes to use.")
        var from: String = "../shared/corpus/dev.ndjson"

        @Option(help: "Share of lines that repeat an earlier one (0…1).")
        var duplicates: Double = 0.05

        @Option(help: "Share of bad inputs (0…1).")
        var bad: Double = 0.02

        func validate() throws {
            guard events >= 0 else { throw ValidationError("--events must not be negative") }
            guard (0...1).contains(duplicates), (0...1).contains(bad) else {
                throw ValidationError("--duplicates and --bad are shares from 0 to 1")
            }
        }

        func run() async throws {
            guard let reader = LineReader(path: from) else {
                printError("fieldgate: cannot open the seed corpus '\(from)' (use --from)")
                throw ExitCode(2)
            }
            var seedRequests: [CorpusRequest] = []
            while let line = reader.next() {
                guard !line.isEmpty, let request = try? CorpusRequest(line: String(decoding: line, as: UTF8.self))
                else {
                    continue
                }
                seedRequests.append(request)
            }
            var options = CorpusGenerator.Options(events: events, seed: seed)
            options.duplicateRate = duplicates
            options.badRate = bad
            guard let generator = CorpusGenerator(seed: seedRequests, options: options) else {
                printError("fieldgate: \(from) has no accepted requests to build jobs from")
                throw ExitCode(2)
            }
            var output = StandardOutput()
            generator.generate { request in
                output.write(Array((request.jsonLine + "\n").utf8))
            }
            output.flush()
        }
    }
}
