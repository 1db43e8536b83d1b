import struct Foundation.URL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are their IPv4 address, so that a
/// policy written for IPv4 applies whichever way the address is spelt.
package enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    /// From network-order bytes: 4 for IPv4, 16 for IPv6.
    package init?(bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            let high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
            if high == 0, low >> 32 == 0xFFFF {
                self = .v4(UInt32(truncatingIfNeeded: low))
            } else {
                self = .v6(high, low)
            }
        default:
            return nil
        }
    }

    /// A literal as a URL host may carry it: IPv4 in any form the system resolver accepts (`127.1`, `0x7f.0.0.1`,
    /// `2130706433` — all 127.0.0.1), or IPv6 with or without brackets. Nil for a host name.
    package init?(literal text: String) {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        guard !text.isEmpty, !text.contains("%") else { return nil }
        if text.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(text), &address) == 1 else { return nil }
            self.init(bytes: withUnsafeBytes(of: &address) { Array($0) })
        } else {
            // inet_aton, like getaddrinfo, reads the legacy forms too: a host such as `2130706433` is checked
            // as the address it will connect to, not mistaken for a name.
            // Digits, dots and hex only: inet_aton ignores whatever follows a space.
            let allowed = Set("0123456789abcdefABCDEFxX.".utf8)
            guard text.utf8.allSatisfy(allowed.contains) else { return nil }
            var address = in_addr()
            guard inet_aton(String(text), &address) == 1 else { return nil }
            self.init(bytes: withUnsafeBytes(of: &address) { Array($0) })
        }
    }

    /// The address's 16 bytes as IPv6 (IPv4 as `::ffff:a.b.c.d`), for prefix matching.
    var v6Form: (UInt64, UInt64) {
        switch self {
        case .v4(let value): (0, 0xFFFF_0000_0000 | UInt64(value))
        case .v6(let high, let low): (high, low)
        }
    }

    /// The address as `inet_ntop` writes it (`10.0.0.5`, `fd00::1`), without brackets.
    package var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        case .v6(let high, let low):
            var bytes = [UInt8](repeating: 0, count: 16)
            for index in 0..<8 {
                bytes[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
                bytes[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * index))
            }
            var output = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let written = bytes.withUnsafeBytes { raw in
                inet_ntop(AF_INET6, raw.baseAddress, &output, socklen_t(output.count))
            }
            guard written != nil else { return "?" }
            return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// A CIDR block: `10.20.0.0/16`, `::1/128`; a bare address is the block of that one address.
package struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    package var address: IPAddress
    package var prefixLength: Int

    package init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(literal: String(parts[0])), !parts[0].hasPrefix("[") else { return nil }
        let width: Int
        switch address {
        case .v4: width = 32
        case .v6: width = 128
        }
        var length = width
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].utf8.count <= 3,
                parts[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                let value = Int(parts[1]), value <= width
            else { return nil }
            length = value
        }
        self.init(address: address, prefixLength: length)
    }

    package init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Whether `candidate` is in the block. An IPv4 block holds the IPv4 addresses only (and their mapped forms,
    /// which ``IPAddress`` reads as IPv4).
    package func contains(_ candidate: IPAddress) -> Bool {
        switch (address, candidate) {
        case (.v4(let network), .v4(let value)):
            guard prefixLength > 0 else { return true }
            let mask = UInt32.max << (32 - prefixLength)
            return network & mask == value & mask
        case (.v6, .v6):
            let (networkHigh, networkLow) = address.v6Form
            let (high, low) = candidate.v6Form
            return Self.matches(networkHigh, high, bits: min(prefixLength, 64))
                && Self.matches(networkLow, low, bits: max(prefixLength - 64, 0))
        default:
            return false
        }
    }

    private static func matches(_ a: UInt64, _ b: UInt64, bits: Int) -> Bool {
        guard bits > 0 else { return true }
        let mask = bits >= 64 ? UInt64.max : UInt64.max << (64 - bits)
        return a & mask == b & mask
    }

    package var description: String { "\(address)/\(prefixLength)" }
}

/// Where deliveries may go (CONTRACT §7): loopback, private (RFC 1918, CGNAT, ULA), link-local, multicast and
/// unspecified addresses — and the reserved ones around them — are refused unless `delivery.allowNetworks` holds
/// them. Operators and, through the admin API, anyone with the token choose destinations, so a subscriber URL must
/// not become a way into the gateway's own network.
package struct NetworkPolicy: Sendable, Equatable {
    /// `delivery.allowNetworks`: blocks that are allowed although they are in a refused range.
    package var allowNetworks: [IPNetwork]

    package init(allowNetworks: [IPNetwork] = []) {
        self.allowNetworks = allowNetworks
    }

    /// The refused ranges, each with the word an operator reads in `lastError`.
    static let refusedRanges: [(IPNetwork, String)] = [
        ("0.0.0.0/8", "an unspecified"), ("10.0.0.0/8", "a private"), ("100.64.0.0/10", "a shared (CGNAT)"),
        ("127.0.0.0/8", "a loopback"), ("169.254.0.0/16", "a link-local"), ("172.16.0.0/12", "a private"),
        ("192.0.0.0/24", "a reserved"), ("192.168.0.0/16", "a private"), ("198.18.0.0/15", "a reserved"),
        ("224.0.0.0/4", "a multicast"), ("240.0.0.0/4", "a reserved"), ("::/128", "an unspecified"),
        ("::1/128", "a loopback"), ("fc00::/7", "a private (ULA)"), ("fe80::/10", "a link-local"),
        ("fec0::/10", "a site-local"), ("ff00::/8", "a multicast"),
    ].map { (IPNetwork($0.0)!, $0.1) }

    /// Why a connection to `address` is refused, or nil when it may be made.
    package func refusal(for address: IPAddress) -> String? {
        if allowNetworks.contains(where: { $0.contains(address) }) { return nil }
        if let embedded = Self.embeddedIPv4(address), let reason = refusal(for: embedded) { return reason }
        guard let (_, kind) = Self.refusedRanges.first(where: { $0.0.contains(address) }) else { return nil }
        return "\(address) is \(kind) address, which delivery.allowNetworks does not allow"
    }

    /// Why a subscriber URL is refused when it is created, or nil: only a host that is a literal address can be
    /// judged before connecting; names are checked at every connection.
    package func refusal(forURL url: String) -> String? {
        guard let host = URL(string: url)?.host, let address = IPAddress(literal: host) else { return nil }
        return refusal(for: address)
    }

    /// The IPv4 address inside an IPv6 one that translates to it: NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`) and
    /// the deprecated IPv4-compatible form (`::a.b.c.d`).
    static func embeddedIPv4(_ address: IPAddress) -> IPAddress? {
        guard case .v6(let high, let low) = address else { return nil }
        if high == 0x0064_FF9B_0000_0000, low >> 32 == 0 { return .v4(UInt32(truncatingIfNeeded: low)) }
        if high >> 48 == 0x2002 { return .v4(UInt32(truncatingIfNeeded: high >> 16)) }
        if high == 0, low >> 32 == 0, low > 1 { return .v4(UInt32(truncatingIfNeeded: low)) }
        return nil
    }
}
