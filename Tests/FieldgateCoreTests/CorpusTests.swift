import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Testing

import struct Foundation.URL

/// The shared dev corpus: every line's `[expect …]` note, through the real pipeline and the shared config.
@Suite("Dev corpus", .serialized)
struct CorpusTests {
    static let adapters: [any VendorAdapter] = BuiltInVendors.adapters

    @Test func everyLineMeetsItsExpectation() async throws {
        let corpus = RepositoryPaths.sharedCorpus
        let config = try RepositoryPaths.read(corpus.appendingPathComponent("fieldgate.yaml"))
        let lines = try RepositoryPaths.read(corpus.appendingPathComponent("dev.ndjson"))
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init)
            .filter { !$0.isEmpty }
        #expect(lines.count == 178)

        let harness = try PipelineHarness(configurationYAML: config, adapters: Self.adapters)
        var normalizer = CorpusNormalizer(pipeline: harness.pipeline)
        var acceptedIDByLine: [Int: String] = [:]
        var met = 0
        for (index, line) in lines.enumerated() {
            let number = index + 1
            let request = try CorpusRequest(line: line)
            let expectation = try #require(
                CorpusExpectation(note: request.note ?? ""),
                "line \(number) has no [expect]"
            )
            let result = try await normalizer.normalize(line: number, request: request)
            let failures = check(result, against: expectation, acceptedIDByLine: acceptedIDByLine)
            if case .accepted(let event) = result.outcome { acceptedIDByLine[number] = event.id }
            if failures.isEmpty {
                met += 1
            } else {
                Issue.record("line \(number) [expect \(expectation)]: \(failures.joined(separator: "; "))")
            }
        }
        #expect(met == 178)
        let tally = normalizer.tally
        #expect(tally.accepted + tally.duplicate + tally.rejected == 178)
        // Rejections after authentication are kept; 401/413 are not.
        #expect(
            harness.store.quarantined.count
                == lines.indices.filter { index in
                    guard let note = try? CorpusRequest(line: lines[index]).note,
                        let expectation = CorpusExpectation(note: note)
                    else { return false }
                    return [400, 415, 422].contains(expectation.http)
                }.count
        )
    }

    func check(
        _ result: NormalizedLine,
        against expected: CorpusExpectation,
        acceptedIDByLine: [Int: String]
    ) -> [String] {
        var failures: [String] = []
        if result.outcome.httpStatus != expected.http {
            failures.append(
                "http \(result.outcome.httpStatus) (\(result.outcome.problem?.description ?? "no problem"))"
            )
            return failures
        }
        if let original = expected.duplicateOfLine {
            guard case .duplicate(let first) = result.outcome else { return failures + ["not a duplicate"] }
            if result.duplicateOf != original {
                failures.append("duplicateOf \(String(describing: result.duplicateOf))")
            }
            if first != acceptedIDByLine[original] { failures.append("id is not line \(original)'s") }
            return failures
        }
        guard expected.http == 202 else {
            guard let problem = result.outcome.problem else { return failures + ["no problem document"] }
            guard let codes = expected.problemCodes else { return failures + ["no problem code known for this reason"] }
            if !codes.contains(problem.code.rawValue) {
                failures.append("code \(problem.code.rawValue), not \(codes.sorted())")
            }
            return failures
        }
        guard case .accepted(let event) = result.outcome else { return failures + ["not accepted as new"] }
        if event.type.rawValue != expected.type { failures.append("type \(event.type.rawValue)") }
        let status = event.job?.status?.rawValue ?? "null"
        if let want = expected.fields["status"], want != status { failures.append("status \(status)") }
        if let want = expected.fields["jobId"], want != (event.job?.id ?? "null") {
            failures.append("jobId \(event.job?.id ?? "null")")
        }
        if let want = expected.fields["vendorStatus"] {
            let vendorStatus = event.job?.vendorStatus
            let matches =
                want == "null" ? vendorStatus == nil : (vendorStatus?.code == want || vendorStatus?.name == want)
            if !matches { failures.append("vendorStatus \(String(describing: vendorStatus))") }
        }
        if event.subject != event.job?.id { failures.append("subject \(String(describing: event.subject))") }
        return failures
    }

    @Test func normalizingTwiceGivesTheSameIDs() async throws {
        let corpus = RepositoryPaths.sharedCorpus
        let config = try RepositoryPaths.read(corpus.appendingPathComponent("fieldgate.yaml"))
        let lines = try RepositoryPaths.read(corpus.appendingPathComponent("dev.ndjson")).split(separator: "\n")
        var runs: [[String?]] = []
        for start in ["2026-10-26T21:14:06.512Z", "2027-01-01T00:00:00Z"] {
            let harness = try PipelineHarness(
                configurationYAML: config,
                adapters: Self.adapters,
                now: UTCTimestamp(rfc3339: start)!
            )
            var ids: [String?] = []
            for line in lines {
                ids.append(try await harness.send(CorpusRequest(line: String(line)).inboundRequest).eventID)
            }
            runs.append(ids)
        }
        #expect(runs[0] == runs[1])
        #expect(runs[0].compactMap { $0 }.count == 136)
    }
}
