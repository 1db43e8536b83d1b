import Benchmark
import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors

import class Foundation.ProcessInfo

// CONTRACT §1: no request shape costs more than a small constant factor over a plain body of the same size.
// Each pathological shape (FieldgateTestSupport's HostileShapes) runs beside its plain twin — the same vendor's
// ordinary event padded to exactly the same length — through what the pipeline does after the credential check:
// normalize (parse, map, canonical content) and the event ID. docs/PERFORMANCE.md tabulates the wall-clock ratios;
// `mallocCountTotal` is deterministic and is what the committed thresholds check.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .microseconds,
        maxDuration: .seconds(2),
        maxIterations: 1_000,
        // Loose on purpose: a few shapes' counts move between runs (keys sharing a 16-byte prefix: 41 or 61,
        // tiny form pairs: 61 or 65), and what the thresholds must catch is an allocation per key, pair or
        // element, which at 512 KiB is thousands.
        thresholds: [.mallocCountTotal: .init(relative: [.p90: 50], absolute: [.p90: 32])]
    )

    let configuration = try! GatewayConfiguration.parse(yaml: HostileShapes.configurationYAML)
    let directory = try! TenantDirectory(
        configuration: configuration,
        adapters: BuiltInVendors.adapters
    )

    // FIELDGATE_HOSTILE_BYTES picks another size (the before/after runs in docs/PERFORMANCE.md use 80 KB too).
    let size = ProcessInfo.processInfo.environment["FIELDGATE_HOSTILE_BYTES"].flatMap { Int($0) }
    for shape in HostileShapes.all(size: size ?? HostileShapes.defaultSize) {
        let tenant = directory.entry(vendor: shape.vendor, tenant: shape.tenant)!.tenant
        for (variant, body) in [("hostile", shape.body), ("plain", shape.plain)] {
            let request = AdapterRequest(routeSuffix: shape.routeSuffix, headers: shape.headers, body: body)
            Benchmark("\(shape.name).\(variant)") { benchmark in
                for _ in benchmark.scaledIterations {
                    let adapted = try tenant.normalize(request)
                    let key = DedupeKey(
                        vendor: shape.vendor,
                        tenant: shape.tenant,
                        routeSuffix: shape.routeSuffix,
                        canonicalContent: adapted.canonicalContent
                    )
                    blackHole(key.eventID)
                    blackHole(adapted)
                }
            }
        }
    }
}
