import FieldgateCore
import Testing

@Suite("Network policy")
struct NetworkPolicyTests {
    static let policy = NetworkPolicy()

    @Test(arguments: [
        ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"), ("10.0.0.1", "private"),
        ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.0.1", "private"),
        ("100.64.0.1", "CGNAT"), ("100.127.255.255", "CGNAT"), ("fd12:3456::1", "ULA"), ("fc00::1", "ULA"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("255.255.255.255", "reserved"),
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.1.1", "private"), ("64:ff9b::a00:1", "private"),
        ("2002:7f00:1::1", "loopback"), ("::7f00:1", "loopback"), ("[::1]", "loopback"), ("2130706433", "loopback"),
        ("0x7f.1", "loopback"), ("127.1", "loopback"), ("017700000001", "loopback"),
    ])
    func refusedRangesAreRefused(literal: String, kind: String) throws {
        let address = try #require(IPAddress(literal: literal), "\(literal)")
        let refusal = try #require(Self.policy.refusal(for: address), "\(literal) was allowed")
        #expect(refusal.contains(kind), "\(refusal)")
    }

    @Test(arguments: [
        "192.0.2.10", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1", "2606:4700::1111", "11.0.0.1",
    ])
    func publicAddressesAreAllowed(literal: String) throws {
        let address = try #require(IPAddress(literal: literal))
        #expect(Self.policy.refusal(for: address) == nil, "\(literal)")
    }

    @Test func allowNetworksOpenExactlyTheirBlocks() throws {
        let policy = NetworkPolicy(
            allowNetworks: ["127.0.0.0/8", "::1/128", "10.20.0.0/16"].compactMap(IPNetwork.init)
        )
        #expect(policy.allowNetworks.count == 3)
        for allowed in ["127.0.0.1", "::1", "::ffff:127.0.0.1", "10.20.255.1"] {
            #expect(policy.refusal(for: IPAddress(literal: allowed)!) == nil, "\(allowed)")
        }
        for refused in ["10.21.0.1", "192.168.1.1", "fd00::1", "169.254.169.254"] {
            #expect(policy.refusal(for: IPAddress(literal: refused)!) != nil, "\(refused)")
        }
    }

    @Test(arguments: [
        "", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "host.example", "[::1]/128", "1.2.3.4/8x",
    ])
    func malformedNetworksAreRefused(text: String) {
        #expect(IPNetwork(text) == nil)
    }

    @Test func urlsAreJudgedByALiteralHostOnly() {
        #expect(Self.policy.refusal(forURL: "http://127.0.0.1:8080/hook") != nil)
        #expect(Self.policy.refusal(forURL: "https://[::1]/hook") != nil)
        #expect(Self.policy.refusal(forURL: "http://evil.example@10.0.0.1/") != nil)
        #expect(Self.policy.refusal(forURL: "https://localhost.example/") == nil)
        #expect(Self.policy.refusal(forURL: "https://hooks.example.com/") == nil)
        #expect(IPAddress(literal: "deadbeef") == nil)
        #expect(IPAddress(literal: "cafe.example") == nil)
        #expect(IPAddress(literal: "fe80::1%eth0") == nil)
        #expect(IPAddress(literal: "fd00::1")?.description == "fd00::1")
        #expect(IPAddress(literal: "::ffff:10.0.0.1")?.description == "10.0.0.1")
    }
}
