import FieldgateCore
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Hummingbird
import HummingbirdTesting
import Testing

/// The whole dev corpus through HTTP: every `[expect …]` note, then every accepted event read back by ID.
@Suite("Dev corpus over HTTP")
struct CorpusOverHTTPTests {
    @Test(arguments: [TestingSetup.router, TestingSetup.live])
    func everyLineMeetsItsExpectationAndReadsBack(_ setup: TestingSetup) async throws {
        let corpus = try DevCorpus()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: corpus.configurationYAML,
            databasePath: directory.path("corpus.db")
        )
        try await harness.application.test(setup) { client in
            var acceptedByLine: [Int: String] = [:]
            var failures: [String] = []
            for (index, line) in corpus.lines.enumerated() {
                let number = index + 1
                let request = try CorpusRequest(line: line)
                let expected = try #require(CorpusExpectation(note: request.note ?? ""))
                let response = try await client.send(request)
                let problems = try Self.check(response, expected, acceptedByLine: acceptedByLine)
                if problems.isEmpty, expected.http == 202, expected.duplicateOfLine == nil {
                    acceptedByLine[number] = try response.json["id"]?.stringValue
                }
                failures += problems.map { "line \(number) [expect \(expected)]: \($0)" }
            }
            for failure in failures { Issue.record(Comment(rawValue: failure)) }
            let newEvents = try corpus.lines.filter { line in
                let expected = CorpusExpectation(note: try CorpusRequest(line: line).note ?? "")
                return expected?.http == 202 && expected?.duplicateOfLine == nil
            }.count
            #expect(newEvents == 123)
            #expect(acceptedByLine.count == newEvents)

            // Each accepted event reads back with its raw request, secrets redacted.
            for (line, id) in acceptedByLine {
                let response = try await client.admin("/v1/events/\(id)")
                #expect(response.status == .ok, "line \(line)")
                let stored = try response.json
                #expect(stored["event"]?["id"]?.stringValue == id)
                #expect(stored["receivedAt"]?.stringValue == stored["event"]?["data"]?["receivedAt"]?.stringValue)
                let request = try CorpusRequest(line: corpus.lines[line - 1])
                #expect(stored["raw"]?["path"]?.stringValue == request.path)
                let headers = stored["raw"]?["headers"]?.arrayValue ?? []
                for header in headers {
                    let name = header["name"]?.stringValue ?? ""
                    if [
                        "x-token", "authorization", "tracktik-callout-secret", "x-bastion-webhook-secret",
                        "x-webhook-key",
                    ]
                    .contains(name.lowercased()) {
                        #expect(header["value"]?.stringValue == RedactedRequest.redactedValue, "line \(line) \(name)")
                    }
                }
            }
        }
        // Quarantined: everything rejected after authentication (400/415/422), nothing else.
        let expectedQuarantine = try corpus.lines.filter { line in
            let note = try CorpusRequest(line: line).note ?? ""
            return [400, 415, 422].contains(CorpusExpectation(note: note)?.http ?? 0)
        }.count
        let quarantined = try await harness.store.quarantinedRequests(QuarantineQuery(limit: 500))
        #expect(quarantined.items.count == expectedQuarantine)
    }

    static func check(
        _ response: TestResponse,
        _ expected: CorpusExpectation,
        acceptedByLine: [Int: String]
    ) throws
        -> [String]
    {
        let status = Int(response.status.code)
        guard status == expected.http else { return ["HTTP \(status): \(response.text)"] }
        let body = try response.json
        guard status == 202 else {
            var problems: [String] = []
            if response.headers[.contentType] != "application/problem+json" { problems.append("not problem+json") }
            if body["status"]?.numberText != String(status) { problems.append("problem status") }
            if body["type"]?.stringValue != "urn:fieldgate:problem:\(body["code"]?.stringValue ?? "")" {
                problems.append("problem type")
            }
            if (body["detail"]?.stringValue ?? "").isEmpty { problems.append("no detail") }
            guard let codes = expected.problemCodes else { return problems + ["no problem code known for this reason"] }
            if !codes.contains(body["code"]?.stringValue ?? "") {
                problems.append("code \(body["code"]?.stringValue ?? "none"), not \(codes.sorted())")
            }
            return problems
        }
        if let original = expected.duplicateOfLine {
            var problems: [String] = []
            if body["status"]?.stringValue != "duplicate" { problems.append("not a duplicate: \(response.text)") }
            if body["id"]?.stringValue != acceptedByLine[original] { problems.append("not line \(original)'s ID") }
            return problems
        }
        return body["status"]?.stringValue == "accepted" ? [] : ["not accepted: \(response.text)"]
    }
}
