/// The console's escaping, for tests outside the module: the HTML writer itself stays internal.
package enum HTMLEscapingProbe {
    package static func escaped(_ text: String) -> String { HTML.escaped(text) }

    package static func link(_ segments: [String], query: [(String, String?)]) -> String {
        ConsoleLink(segments: segments, query: query).text
    }
}
