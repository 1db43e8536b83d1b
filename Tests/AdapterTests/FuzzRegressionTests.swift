import FieldgateFuzzChecks
import FieldgateTestSupport
import Foundation
import Testing

/// Every input a fuzzer found (Tests/AdapterTests/FuzzRegressions/<target>/, committed by scripts/fuzz.sh's
/// user when a run finds one) and every contract fixture's body go through the fuzz targets' checks again:
/// what crashed once must never crash again.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let directory = RepositoryPaths.root.appendingPathComponent("Tests/AdapterTests/FuzzRegressions")

    static let checks: [String: @Sendable ([UInt8]) -> Void] = [
        "json": FuzzChecks.json,
        "hellotracks": FuzzChecks.hellotracks,
        "techlink": FuzzChecks.techLink,
        "tracktik": FuzzChecks.trackTik,
    ]

    @Test(arguments: ["json", "hellotracks", "techlink", "tracktik"])
    func everyFoundInputPassesItsChecks(target: String) throws {
        let folder = Self.directory.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "README" }
        let check = try #require(Self.checks[target])
        for name in names.sorted() {
            let data = try #require(FileManager.default.contents(atPath: folder.appendingPathComponent(name).path))
            check(Array(data))
        }
    }

    /// The fixtures are the fuzzers' seeds: they pass the checks before any mutation.
    @Test func everyContractFixtureBodyPassesTheChecks() throws {
        var checked = 0
        for fixture in ContractFixture.all {
            let root = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture.file)) as? [String: Any]
            guard let request = root?["request"] as? [String: Any] else { continue }
            let body: [UInt8]
            if let text = request["body"] as? String {
                body = Array(text.utf8)
            } else if let encoded = request["bodyBase64"] as? String, let data = Data(base64Encoded: encoded) {
                body = Array(data)
            } else {
                continue
            }
            let vendor = fixture.name.split(separator: "/").first.map(String.init) ?? ""
            switch vendor {
            case "hellotracks": FuzzChecks.hellotracks(body)
            case "techlink": FuzzChecks.techLink(body)
            case "tracktik": FuzzChecks.trackTik([0] + body)
            default: continue
            }
            if vendor != "hellotracks" { FuzzChecks.json(body) }
            checked += 1
        }
        #expect(checked > 100)
    }
}
