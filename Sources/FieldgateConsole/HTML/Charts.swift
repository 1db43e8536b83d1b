/// Small inline SVG charts, drawn on the server: no script, no external library, styled by the stylesheet's
/// classes (the CSP allows no inline style). Every bar has a `<title>`, so the numbers are there on hover and for
/// screen readers.
enum Charts {
    /// One bucket of ingest outcomes.
    struct Bucket: Sendable, Equatable {
        var label: String
        var accepted = 0
        var duplicates = 0
        var rejected = 0
        var total: Int { accepted + duplicates + rejected }
    }

    /// Stacked bars, one per bucket: accepted at the bottom, then duplicates, then rejected.
    static func outcomes(_ html: inout HTML, _ buckets: [Bucket], label: String) {
        let width = 240
        let height = 32
        let slot = max(1, width / max(buckets.count, 1))
        let barWidth = max(1, slot - (slot > 2 ? 1 : 0))
        let peak = max(1, buckets.map(\.total).max() ?? 1)
        html.open(
            "svg",
            [
                Attribute("class", "spark"), Attribute("viewBox", "0 0 \(width) \(height)"),
                Attribute("preserveAspectRatio", "none"), Attribute("role", "img"), Attribute("aria-label", label),
                Attribute("xmlns", "http://www.w3.org/2000/svg"),
            ]
        )
        html.element("title", text: label)
        html.open(
            "rect",
            [
                .class("base"), Attribute("x", "0"), Attribute("y", "\(height - 1)"),
                Attribute("width", "\(width)"), Attribute("height", "1"),
            ]
        )
        html.close("rect")
        for (index, bucket) in buckets.enumerated() {
            let x = index * slot
            var top = height
            for (value, kind) in [
                (bucket.accepted, "accepted"), (bucket.duplicates, "duplicate"), (bucket.rejected, "rejected"),
            ]
            where value > 0 {
                let barHeight = max(1, value * (height - 2) / peak)
                top -= barHeight
                html.open(
                    "rect",
                    [
                        .class(kind), Attribute("x", "\(x)"), Attribute("y", "\(top)"),
                        Attribute("width", "\(barWidth)"), Attribute("height", "\(barHeight)"),
                    ]
                )
                html.element(
                    "title",
                    text:
                        "\(bucket.label): \(bucket.accepted) accepted, \(bucket.duplicates) duplicates, \(bucket.rejected) refused"
                )
                html.close("rect")
            }
        }
        html.close("svg")
    }

    /// A horizontal meter for a share from 0 to 1.
    static func meter(_ html: inout HTML, _ share: Double?, label: String) {
        html.open(
            "svg",
            [
                Attribute("class", "meter"), Attribute("viewBox", "0 0 100 10"), Attribute("role", "img"),
                Attribute("aria-label", label), Attribute("xmlns", "http://www.w3.org/2000/svg"),
            ]
        )
        html.element("title", text: label)
        html.open(
            "rect",
            [
                .class("track"), Attribute("x", "0"), Attribute("y", "0"), Attribute("width", "100"),
                Attribute("height", "10"),
            ]
        )
        html.close("rect")
        if let share {
            let width = Int((max(0, min(1, share)) * 100).rounded())
            html.open(
                "rect",
                [
                    .class(share < 0.9 ? "fill low" : "fill"), Attribute("x", "0"), Attribute("y", "0"),
                    Attribute("width", "\(width)"), Attribute("height", "10"),
                ]
            )
            html.close("rect")
        }
        html.close("svg")
    }
}
