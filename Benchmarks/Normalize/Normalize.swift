import Benchmark
import FieldgateCore
import FieldgateModel
import FieldgateVendors
import Foundation

// The parsing hot path: one vendor request → canonical event + event ID, as the pipeline does it after the
// credential check. `mallocCountTotal` is deterministic here and thresholded; wall clock is informational.

let configurationYAML = """
    tenants:
      - {vendor: tracktik, tenant: northwind-security, secretHeader: {name: TrackTik-Callout-Secret, value: s}}
      - {vendor: hellotracks, tenant: rapidfix-hvac, account: rapidfix.hvac}
      - {vendor: techlink, tenant: brightline-retail}
    """

/// A workflow-instance log with `include=status,user,workflowInstance` (1,0xx bytes, PHP-escaped like TrackTik's).
let trackTikLog = #"""
    {"user":{"customId":"E01017","firstName":"Dana","lastName":"Kowalczyk","name":"Dana Kowalczyk","email":"d.kowalczyk@northwindsecurity.com","jobTitle":"Dispatcher","region":2,"status":"ACTIVE","id":1017},"timeZone":"America\/New_York","createdOn":"2026-09-14T06:31:07+00:00","workflowInstance":{"currentStatus":11,"workflow":2,"modifiedOn":"2026-09-14T06:31:07+00:00","startedOn":"2026-09-14T06:30:58+00:00","dispatchTask":653,"id":590},"id":2181,"status":{"name":"En Route","tag":"En Route","workflow":2,"formatBackgroundColor":"Black","formatTextColor":"WHITE","warningThresholdInMinutes":1,"alertThresholdInMinutes":5,"id":11},"comment":"Officer Kowalczyk en route from Rue Saint-Paul \u2014 ETA 6 min. Client contact: Mme B\u00e9langer (+1 514-555-0182), gate code on file. Camera 12 still shows movement near the loading dock fence line; police not yet requested.","source":{"type":"MOBILE","device":"iPhone 15","appVersion":"5.42.1"}}
    """#

/// A `jobupdated` form as Hellotracks sends it (percent-encoded job array in `data`), 1.7 KB.
let hellotracksForm =
    "account=rapidfix.hvac&id=6aa95df39c41a7e2b5d0f318&data=%5B%7B%22id%22%3A%226aa95df39c41a7e2b5d0f318%22%2C%22uidSecondary%22%3A%22RFX-WO-55120%22%2C%22type%22%3A0%2C%22teamId%22%3A0%2C%22destinationName%22%3A%22RTU-3+not+cooling+%E2%80%93+Suite+210%22%2C%22destinationLat%22%3A37.33548%2C%22destinationLng%22%3A-121.89399%2C%22destinationText%22%3A%221735+Technology+Dr%2C+San+Jose%2C+CA+95110%22%2C%22textDispatcher%22%3A%22Tenant+reports+82%C2%B0F+in+suite.+Gate+code+4411%23+%26+ring+bell+at+loading+dock.%22%2C%22textReceiver%22%3A%22%22%2C%22contactName%22%3A%22Priya+Raman%22%2C%22contactPhone%22%3A%22%2B1+408-555-0199%22%2C%22contactEmail%22%3A%22facilities%40meridianpark.example%22%2C%22day%22%3A20260915%2C%22priority%22%3A8%2C%22number%22%3A0%2C%22onSiteSeconds%22%3A1800%2C%22windowStart%22%3A0%2C%22windowEnd%22%3A2400%2C%22orderId%22%3A55120%2C%22placeUid%22%3A%22mp9r2k%22%2C%22placeName%22%3A%22Meridian+Park+%E2%80%93+Bldg+C%22%2C%22radius%22%3A150%2C%22worker%22%3A%22luis.ortega%22%2C%22workerName%22%3A%22Luis+Ortega%22%2C%22receiverUid%22%3A%22lq3k9x%22%2C%22dispatcherUid%22%3A%22rf0d1s%22%2C%22dispatcherName%22%3A%22Nora+Blake%22%2C%22tsCreated%22%3A1789484531412%2C%22tsSaved%22%3A1789484762947%2C%22tsScheduled%22%3A0%2C%22tsAssigned%22%3A1789484670118%2C%22tsAccepted%22%3A1789484762947%2C%22tsRejected%22%3A0%2C%22tsCheckIn%22%3A0%2C%22tsCheckOut%22%3A0%2C%22tsDoneSuccess%22%3A0%2C%22tsDoneFailed%22%3A0%2C%22tsSignature%22%3A0%2C%22signatureName%22%3A%22%22%2C%22customFields%22%3A%5B%7B%22key%22%3A%22equipment%22%2C%22val%22%3A%22Carrier+48TC+RTU-3%22%7D%2C%7B%22key%22%3A%22warranty%22%2C%22val%22%3A%22no%22%7D%5D%7D%5D&action=jobupdated&reason=jobupdated"

/// A TechLink status change (the most frequent TechLink event), 149 bytes.
let techLinkStatusChange =
    #"{"event":"work order status change","workorder_id":"184233","old_status_code":"10","old_status":"Created","new_status_code":"20","new_status":"Open"}"#

struct Case {
    let vendor: String
    let tenant: String
    let routeSuffix: String
    let body: [UInt8]
}

let cases: [String: Case] = [
    "tracktik": Case(
        vendor: "tracktik",
        tenant: "northwind-security",
        routeSuffix: "workflow-instance-logs",
        body: Array(trackTikLog.utf8)
    ),
    "hellotracks": Case(
        vendor: "hellotracks",
        tenant: "rapidfix-hvac",
        routeSuffix: "",
        body: Array(hellotracksForm.utf8)
    ),
    "techlink": Case(
        vendor: "techlink",
        tenant: "brightline-retail",
        routeSuffix: "",
        body: Array(techLinkStatusChange.utf8)
    ),
]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000,
        thresholds: [.mallocCountTotal: .init(relative: [.p90: 5], absolute: [.p90: 2])]
    )

    let configuration = try! GatewayConfiguration.parse(yaml: configurationYAML)
    let directory = try! TenantDirectory(
        configuration: configuration,
        adapters: BuiltInVendors.adapters
    )

    for name in ["tracktik", "hellotracks", "techlink"] {
        let testCase = cases[name]!
        let tenant = directory.entry(vendor: testCase.vendor, tenant: testCase.tenant)!.tenant
        let request = AdapterRequest(routeSuffix: testCase.routeSuffix, headers: RequestHeaders(), body: testCase.body)
        Benchmark(named("Normalize+ID \(name) (\(testCase.body.count) B)")) { benchmark in
            for _ in benchmark.scaledIterations {
                let adapted = try tenant.normalize(request)
                let key = DedupeKey(
                    vendor: testCase.vendor,
                    tenant: testCase.tenant,
                    routeSuffix: testCase.routeSuffix,
                    canonicalContent: adapted.canonicalContent
                )
                blackHole(key.eventID)
                blackHole(adapted)
            }
        }
    }

    // The baseline the issue names: Foundation's JSONSerialization parsing the same payloads into Any.
    for name in ["tracktik", "techlink"] {
        let body = Data(cases[name]!.body)
        Benchmark(named("JSONSerialization parse \(name) (\(body.count) B)")) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try JSONSerialization.jsonObject(with: body))
            }
        }
    }

    let canonical = Array(techLinkStatusChange.utf8)
    Benchmark(named("Event ID derivation (SHA-256 of the dedupe key, \(canonical.count) B content)")) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(
                DedupeKey(vendor: "techlink", tenant: "brightline-retail", routeSuffix: "", canonicalContent: canonical)
                    .eventID
            )
        }
    }

    let logBytes = Array(trackTikLog.utf8)
    Benchmark(named("JSON parse tracktik (\(logBytes.count) B)")) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try JSONDocument(parsing: logBytes))
        }
    }

    let document = try! JSONDocument(parsing: logBytes)
    Benchmark(named("Canonical JSON tracktik (\(logBytes.count) B)")) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(document.root.canonicalBytes)
        }
    }

    let store = InMemoryEventStore()
    let pipeline = IngestPipeline(directory: directory, store: store, clock: SystemWallClock(), maxBodyBytes: 1_048_576)
    let inbound = InboundRequest(
        method: "POST",
        path: "/webhooks/techlink/brightline-retail",
        headers: RequestHeaders([("Content-Type", "application/json"), ("Content-Length", "149")]),
        body: Array(techLinkStatusChange.utf8)
    )
    Benchmark(named("Pipeline techlink duplicate (in-memory store)")) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try await pipeline.process(inbound))
        }
    }
}

/// package-benchmark 1.38 writes `thresholds update` files with spaces turned into underscores but looks them up
/// by the raw name in `thresholds check`; names without spaces make the committed thresholds checkable.
func named(_ title: String) -> String {
    String(title.map { $0 == " " ? "_" : $0 })
}
