import Dispatch
package import FieldgateCore
import Synchronization

import struct Foundation.URL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a host name into the addresses a connection may go to; injected so that tests can map a name to any
/// address (a DNS rebinding to a private address, say) without a DNS server and without sending anything.
package protocol AddressResolver: Sendable {
    /// The host's addresses in the order to try them; throws when the name does not resolve.
    func addresses(host: String, port: Int) async throws -> [IPAddress]
}

/// The system resolver (`getaddrinfo`), run off the caller's thread because it blocks.
///
/// Cancellation answers at once (the attempt's deadline passed): the lookup finishes on its thread and its answer
/// is dropped, so a slow DNS server cannot hold an attempt past its deadline.
package struct SystemAddressResolver: AddressResolver {
    package init() {}

    package func addresses(host: String, port: Int) async throws -> [IPAddress] {
        let answer = OneAnswer<[IPAddress]>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                answer.wait(continuation)
                DispatchQueue.global().async {
                    answer.give(Result { try Self.resolve(host: host, port: port) })
                }
            }
        } onCancel: {
            answer.give(.failure(CancellationError()))
        }
    }

    static func resolve(host: String, port: Int) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            throw DestinationRefused("\(host) does not resolve: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var cursor = list
        while let entry = cursor {
            cursor = entry.pointee.ai_next
            guard let socketAddress = entry.pointee.ai_addr else { continue }
            let address: IPAddress?
            switch Int32(socketAddress.pointee.sa_family) {
            case AF_INET:
                address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin_addr) { IPAddress(bytes: $0) }
                }
            case AF_INET6:
                address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { IPAddress(bytes: $0) }
                }
            default:
                address = nil
            }
            if let address, !addresses.contains(address) { addresses.append(address) }
        }
        return addresses
    }
}

/// A continuation resumed by whichever comes first: the answer or a cancellation (given before or after `wait`).
final class OneAnswer<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Value, any Error>?
        var result: Result<Value, any Error>?
        var resumed = false
    }

    private let state = Mutex(State())

    func wait(_ continuation: CheckedContinuation<Value, any Error>) {
        let ready = state.withLock { state -> Result<Value, any Error>? in
            guard let result = state.result, !state.resumed else {
                state.continuation = continuation
                return nil
            }
            state.resumed = true
            return result
        }
        if let ready { continuation.resume(with: ready) }
    }

    func give(_ result: Result<Value, any Error>) {
        let waiting = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            guard !state.resumed else { return nil }
            guard let continuation = state.continuation else {
                if state.result == nil { state.result = result }
                return nil
            }
            state.resumed = true
            state.continuation = nil
            return continuation
        }
        waiting?.resume(with: result)
    }
}

/// A delivery that may not be made: the reason goes into the delivery's `lastError`.
package struct DestinationRefused: Error, Sendable, CustomStringConvertible {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
    package var description: String { reason }
}

/// Where one attempt connects: the subscriber's host, and the checked address the connection is pinned to.
struct Destination: Sendable, Hashable {
    /// The URL's host as written: the `Host` header and TLS server name stay this.
    var host: String
    /// The address the policy allowed; the connection goes here and nowhere else, so a name that resolves
    /// differently a moment later (DNS rebinding) cannot move it.
    var address: IPAddress
    /// True when the host is itself the address (nothing to pin).
    var isLiteral: Bool

    /// Resolves the URL's host (unless it is a literal) and picks the first address the policy allows.
    static func check(
        url: String,
        policy: NetworkPolicy,
        resolver: any AddressResolver
    ) async throws -> Destination {
        guard let parsed = URL(string: url), let host = parsed.host, !host.isEmpty,
            let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else { throw DestinationRefused("the subscriber URL '\(url)' is not an http(s) URL with a host") }
        if let literal = IPAddress(literal: host) {
            if let reason = policy.refusal(for: literal) { throw DestinationRefused(reason) }
            return Destination(host: host, address: literal, isLiteral: true)
        }
        let port = parsed.port ?? (scheme == "https" ? 443 : 80)
        let addresses = try await resolver.addresses(host: host, port: port)
        guard !addresses.isEmpty else { throw DestinationRefused("\(host) resolves to no address") }
        var refusals: [String] = []
        for address in addresses {
            guard let reason = policy.refusal(for: address) else {
                return Destination(host: host, address: address, isLiteral: false)
            }
            refusals.append(reason)
        }
        throw DestinationRefused("\(host) resolves to \(refusals.joined(separator: "; "))")
    }
}
