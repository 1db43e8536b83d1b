import AsyncHTTPClient
import FieldgateCore
import Synchronization

/// One AsyncHTTPClient per checked destination, each pinned to its address with `dnsOverride`.
///
/// AsyncHTTPClient resolves host names itself when it connects and has no hook to veto the address it picked, so
/// the engine resolves first, checks the address against the network policy, and sends through a client whose
/// `dnsOverride` maps the host to exactly that address: the `Host` header and the TLS server name stay the
/// subscriber's host, certificates are verified against it, and the connection cannot go anywhere the policy did
/// not see. Clients are kept while they are in use and the least recently used idle ones are shut down beyond
/// `capacity`, so connections are reused between attempts to the same place.
final class PinnedHTTPClients: Sendable {
    private struct Entry {
        var client: HTTPClient
        var users: Int
        var lastUse: UInt64
    }

    private struct State {
        var entries: [Destination: Entry] = [:]
        var tick: UInt64 = 0
    }

    private let state = Mutex(State())
    let configuration: HTTPClient.Configuration
    let capacity: Int

    init(configuration: HTTPClient.Configuration, capacity: Int = 64) {
        self.configuration = configuration
        self.capacity = capacity
    }

    /// Runs `body` with the client for `destination`, creating it if needed.
    func withClient<T: Sendable>(
        for destination: Destination,
        _ body: (HTTPClient) async throws -> T
    ) async throws -> T {
        let (client, evicted) = state.withLock { state -> (HTTPClient, [HTTPClient]) in
            state.tick &+= 1
            if var entry = state.entries[destination] {
                entry.users += 1
                entry.lastUse = state.tick
                state.entries[destination] = entry
                return (entry.client, [])
            }
            var configuration = self.configuration
            // Literal hosts too: one AsyncHTTPClient does not read as an address (`2130706433`) it would resolve.
            configuration.dnsOverride = [destination.host: "\(destination.address)"]
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            state.entries[destination] = Entry(client: client, users: 1, lastUse: state.tick)
            var evicted: [HTTPClient] = []
            while state.entries.count > capacity,
                let (idle, entry) = state.entries.filter({ $0.value.users == 0 }).min(by: {
                    $0.value.lastUse < $1.value.lastUse
                })
            {
                state.entries[idle] = nil
                evicted.append(entry.client)
            }
            return (client, evicted)
        }
        for old in evicted { try? await old.shutdown() }
        defer {
            state.withLock { state in
                state.entries[destination]?.users -= 1
            }
        }
        return try await body(client)
    }

    /// Shuts every client down; call once nothing is being sent any more (a later attempt makes new ones).
    func shutdown() async {
        let clients = state.withLock { state -> [HTTPClient] in
            defer { state.entries = [:] }
            return state.entries.values.map(\.client)
        }
        for client in clients { try? await client.shutdown() }
    }
}
