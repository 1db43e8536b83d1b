import Synchronization

/// What a commit changed, as far as the parts of a gateway that wait for work care.
package struct StoreChange: OptionSet, Sendable, Hashable {
    package let rawValue: Int
    package init(rawValue: Int) { self.rawValue = rawValue }

    /// New events were accepted (and their deliveries queued): live streams and the delivery engine look.
    package static let events = StoreChange(rawValue: 1 << 0)
    /// Deliveries became due without a new event: a redelivery, a recovery, a subscriber enabled or changed.
    package static let deliveries = StoreChange(rawValue: 1 << 1)

    package static let everything: StoreChange = [.events, .deliveries]
}

/// Tells this process that something was committed to the store — by this instance or, on a shared store, by any
/// other — so that the delivery engine and live streams wait for work instead of polling for it.
///
/// The store publishes: the SQLite store after its own commits, in process; the PostgreSQL store whenever the
/// database notifies it (LISTEN/NOTIFY), which includes its own commits and those of every other instance, and
/// once more after it reconnects, because notifications sent while it was away are lost. Listeners are one-slot
/// ``Wakeup``s: a burst of commits wakes each listener once, and a change published between two waits is not lost.
package final class StoreChanges: Sendable {
    private struct Registration {
        var interest: StoreChange
        var wakeup: Wakeup
    }

    private struct State {
        var listeners: [Int: Registration] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    package init() {}

    /// Wakes every listener interested in any part of `change`.
    package func publish(_ change: StoreChange) {
        let woken = state.withLock { state in
            state.listeners.values.filter { !$0.interest.isDisjoint(with: change) }.map(\.wakeup)
        }
        for wakeup in woken { wakeup.signal() }
    }

    /// Registers a listener; it stays registered until ``Listener/stop()`` (or until it is released).
    package func listen(to interest: StoreChange) -> Listener {
        let wakeup = Wakeup()
        let id = state.withLock { state in
            state.nextID += 1
            state.listeners[state.nextID] = Registration(interest: interest, wakeup: wakeup)
            return state.nextID
        }
        return Listener(changes: self, id: id, wakeup: wakeup)
    }

    fileprivate func remove(_ id: Int) {
        _ = state.withLock { $0.listeners.removeValue(forKey: id) }
    }

    /// How many listeners are registered (tests, metrics).
    package var listenerCount: Int { state.withLock { $0.listeners.count } }

    /// One party waiting for changes.
    package final class Listener: Sendable {
        private let changes: StoreChanges
        private let id: Int
        package let wakeup: Wakeup

        fileprivate init(changes: StoreChanges, id: Int, wakeup: Wakeup) {
            self.changes = changes
            self.id = id
            self.wakeup = wakeup
        }

        /// Returns after the next published change this listener is interested in (at once if one came since the
        /// last wait), or when the task is cancelled.
        package func wait() async { await wakeup.wait() }

        package func stop() { changes.remove(id) }

        deinit { changes.remove(id) }
    }
}

/// A store that announces its commits (every store the gateway runs on).
package protocol StoreChangeAnnouncing: Sendable {
    /// Published after every commit that makes events or deliveries visible.
    var changes: StoreChanges { get }
}
