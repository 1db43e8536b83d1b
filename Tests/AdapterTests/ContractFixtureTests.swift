import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Testing

import class Foundation.FileManager
import struct Foundation.URL

/// One file of `Contracts/vendors/<vendor>/`: a request and the outcome the contract demands for it, optionally
/// after `before` requests received earlier (`{"request", "receivedAt"}` each), for dedupe windows and repeats.
struct ContractFixture: CustomTestStringConvertible, Sendable {
    var name: String
    var file: URL

    var testDescription: String { name }

    static let directory = RepositoryPaths.contracts.appendingPathComponent("vendors")

    static var all: [ContractFixture] {
        let vendors = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return vendors.sorted().flatMap { vendor -> [ContractFixture] in
            let folder = directory.appendingPathComponent(vendor)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return files.filter { $0.hasSuffix(".json") }.sorted().map {
                ContractFixture(name: "\(vendor)/\($0)", file: folder.appendingPathComponent($0))
            }
        }
    }
}

@Suite("Contract fixtures")
struct ContractFixtureTests {
    static let adapters: [any VendorAdapter] = BuiltInVendors.adapters

    @Test func everyVendorHasFixtures() {
        let names = ContractFixture.all.map(\.name)
        for vendor in ["tracktik", "hellotracks", "techlink"] {
            #expect(names.filter { $0.hasPrefix(vendor + "/") }.count >= 10, "\(vendor) has too few fixtures")
        }
    }

    @Test(arguments: ContractFixture.all)
    func fixtureOutcome(_ fixture: ContractFixture) async throws {
        let config = try RepositoryPaths.read(ContractFixture.directory.appendingPathComponent("fieldgate.yaml"))
        let root = try JSONValue(parsing: Array(RepositoryPaths.read(fixture.file).utf8))
        let requestJSON = try #require(root["request"], "\(fixture.name) has no request")
        let expect = try #require(root["expect"], "\(fixture.name) has no expect")
        let receivedAt = try #require(
            UTCTimestamp(rfc3339: root["receivedAt"]?.stringValue ?? "2026-10-26T21:14:06.512Z")
        )
        let harness = try PipelineHarness(configurationYAML: config, adapters: Self.adapters, now: receivedAt)
        // `before`: requests the gateway received earlier (a first copy, an earlier transition), each at its own
        // receipt time, so that dedupe windows and repeats are fixtures too.
        var earlierIDs: [String] = []
        for (position, earlier) in (root["before"]?.arrayValue ?? []).enumerated() {
            let time = try #require(
                UTCTimestamp(rfc3339: earlier["receivedAt"]?.stringValue ?? ""),
                "\(fixture.name): before[\(position)] needs a receivedAt"
            )
            harness.clock.set(time)
            let earlierRequest = try CorpusRequest(line: try #require(earlier["request"]).jsonText)
            let earlierOutcome = try await harness.send(earlierRequest.inboundRequest)
            #expect(earlierOutcome.httpStatus == 202, "\(fixture.name): before[\(position)] \(earlierOutcome)")
            earlierIDs.append(earlierOutcome.event?.id ?? "")
        }
        harness.clock.set(receivedAt)
        let request = try CorpusRequest(line: requestJSON.jsonText)
        let outcome = try await harness.send(request.inboundRequest)

        let http = Int(expect["http"].flatMap { if case .number(let text) = $0 { text } else { nil } } ?? "")
        #expect(outcome.httpStatus == http, "\(fixture.name): \(outcome.problem?.description ?? "accepted")")
        switch expect["outcome"]?.stringValue {
        case "accepted":
            let event = try #require(outcome.event, "\(fixture.name): \(outcome)")
            #expect(outcome.isAccepted)
            let expected = try #require(expect["event"])
            let differences = JSONDifference.between(expected, event.jsonValue)
            #expect(differences.isEmpty, "\(fixture.name):\n\(differences.joined(separator: "\n"))")
        case "duplicate":
            // The first accepted copy's event (the answer names its ID), and which `before` entry that copy was.
            let id = try #require(outcome.eventID, "\(fixture.name): \(outcome)")
            #expect(outcome.isDuplicate, "\(fixture.name): \(outcome)")
            let event = try #require(try await harness.store.event(id: id)?.event, "\(fixture.name): \(id) is stored")
            let expected = try #require(expect["event"])
            let differences = JSONDifference.between(expected, event.jsonValue)
            #expect(differences.isEmpty, "\(fixture.name):\n\(differences.joined(separator: "\n"))")
            if case .number(let position)? = expect["duplicateOf"], let index = Int(position) {
                #expect(earlierIDs.indices.contains(index) && earlierIDs[index] == event.id, "\(fixture.name)")
            }
        case "rejected":
            let problem = try #require(outcome.problem, "\(fixture.name) was not rejected")
            #expect(problem.code.rawValue == expect["problem"]?["code"]?.stringValue, "\(fixture.name): \(problem)")
            #expect(problem.type == "urn:fieldgate:problem:\(problem.code)")
            #expect(!problem.detail.isEmpty)
            if case .bool(let quarantined) = expect["quarantined"] {
                #expect(outcome.wasQuarantined == quarantined, "\(fixture.name): quarantine")
                #expect(harness.store.quarantined.count == (quarantined ? 1 : 0))
            }
        default:
            Issue.record("\(fixture.name): expect.outcome must be accepted, duplicate or rejected")
        }
    }
}

/// Order-insensitive comparison of JSON values that names every differing path.
enum JSONDifference {
    static func between(_ expected: JSONValue, _ actual: JSONValue, path: String = "$") -> [String] {
        switch (expected, actual) {
        case (.object(let a), .object(let b)):
            var differences: [String] = []
            for key in Set(a.keys).union(b.keys).sorted() {
                switch (a[key], b[key]) {
                case (let x?, let y?): differences += between(x, y, path: path + "." + key)
                case (_?, nil): differences.append("\(path).\(key): missing")
                case (nil, let y?): differences.append("\(path).\(key): unexpected \(y.jsonText)")
                default: break
                }
            }
            return differences
        case (.array(let a), .array(let b)) where a.count == b.count:
            return zip(a, b).enumerated().flatMap { between($1.0, $1.1, path: "\(path)[\($0)]") }
        default:
            return expected == actual ? [] : ["\(path): expected \(expected.jsonText), got \(actual.jsonText)"]
        }
    }
}
