/// `storage.postgres`: a libpq-style connection URL, read when the configuration is, so that a typo is refused at
/// start-up with its line rather than when the first request needs the database.
///
/// `postgres://user:password@host:port/database?sslmode=verify-full&sslrootcert=/etc/ssl/pg.pem`. User, password and
/// database are percent-decoded; a bracketed IPv6 host is accepted. Options are libpq's names where libpq has one
/// (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `connect_timeout`, `application_name`) plus Fieldgate's
/// `pool_size` (connections per instance); anything else is refused rather than ignored.
package struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// libpq's `sslmode`: what TLS is required and what is verified.
    package enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, without verifying its certificate (libpq's default).
        case prefer
        /// TLS or nothing; the certificate is not verified unless `sslrootcert` is given (then as `verify-ca`).
        case require
        /// TLS; the certificate must chain to a trusted root, whatever host name it names.
        case verifyCA = "verify-ca"
        /// TLS; the certificate must chain to a trusted root and name the host.
        case verifyFull = "verify-full"
    }

    package var host: String
    package var port: Int
    package var user: String
    package var password: String?
    package var database: String
    package var tlsMode: TLSMode
    /// PEM files: trusted roots (else the system's), and a client certificate with its key.
    package var rootCertificatePath: String?
    package var clientCertificatePath: String?
    package var clientKeyPath: String?
    package var connectTimeout: Duration
    package var applicationName: String
    /// Connections this instance keeps at most (PostgreSQL's `max_connections` is shared by every instance).
    package var poolSize: Int

    package static let defaultPort = 5432
    package static let defaultPoolSize = 20

    /// Parses `text`; the error says what is wrong without repeating the password.
    package init(parsing text: String) throws(PostgresURLError) {
        var rest = Substring(text)
        if rest.hasPrefix("postgres://") {
            rest = rest.dropFirst("postgres://".count)
        } else if rest.hasPrefix("postgresql://") {
            rest = rest.dropFirst("postgresql://".count)
        } else {
            throw PostgresURLError("must start with postgres:// or postgresql://")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }

        // Host and port.
        var hostText: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw PostgresURLError("unclosed '[' in the host") }
            hostText = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw PostgresURLError("unexpected text after the host")
            }
        } else if let colon = rest.firstIndex(of: ":") {
            hostText = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            hostText = rest
        }
        guard !hostText.isEmpty else { throw PostgresURLError("has no host") }
        guard !hostText.contains(",") else { throw PostgresURLError("names several hosts; give one (a proxy or VIP)") }
        host = try Self.decode(hostText, part: "host")
        if let portText {
            guard let port = Int(portText), (1...65_535).contains(port) else {
                throw PostgresURLError("port '\(portText)' is not a TCP port")
            }
            self.port = port
        } else {
            port = Self.defaultPort
        }

        // User and password.
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon], part: "user")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], part: "password")
            } else {
                user = try Self.decode(userInfo, part: "user")
                password = nil
            }
        } else {
            user = "postgres"
            password = nil
        }
        guard !user.isEmpty else { throw PostgresURLError("has an empty user name") }
        database = path.isEmpty ? user : try Self.decode(path, part: "database")
        guard !database.contains("/") else { throw PostgresURLError("database name must not contain '/'") }

        // Options.
        tlsMode = .prefer
        connectTimeout = .seconds(10)
        applicationName = "fieldgate"
        poolSize = Self.defaultPoolSize
        var seen: Set<String> = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(parts[0], part: "option name")
            let value = parts.count > 1 ? try Self.decode(parts[1], part: "option \(name)") : ""
            guard seen.insert(name).inserted else { throw PostgresURLError("option '\(name)' is given twice") }
            switch name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw PostgresURLError(
                        "sslmode '\(value)' is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                tlsMode = mode
            case "sslrootcert": rootCertificatePath = try Self.nonEmpty(value, name)
            case "sslcert": clientCertificatePath = try Self.nonEmpty(value, name)
            case "sslkey": clientKeyPath = try Self.nonEmpty(value, name)
            case "connect_timeout":
                guard let seconds = Int(value), (1...300).contains(seconds) else {
                    throw PostgresURLError("connect_timeout '\(value)' must be 1 to 300 seconds")
                }
                connectTimeout = .seconds(seconds)
            case "application_name": applicationName = try Self.nonEmpty(value, name)
            case "pool_size":
                guard let size = Int(value), (2...1_000).contains(size) else {
                    throw PostgresURLError("pool_size '\(value)' must be 2 to 1000 connections")
                }
                poolSize = size
            default:
                throw PostgresURLError(
                    "unknown option '\(name)' (known: sslmode, sslrootcert, sslcert, sslkey, connect_timeout, "
                        + "application_name, pool_size)"
                )
            }
        }
        if (clientCertificatePath == nil) != (clientKeyPath == nil) {
            throw PostgresURLError("sslcert and sslkey go together")
        }
        if tlsMode == .disable, rootCertificatePath != nil || clientCertificatePath != nil {
            throw PostgresURLError("sslmode=disable contradicts the certificate options")
        }
    }

    /// The URL without its password: safe for logs and the start-up banner.
    package var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(hostPart):\(port)/\(database)?sslmode=\(tlsMode.rawValue)"
    }

    private static func nonEmpty(_ value: String, _ name: String) throws(PostgresURLError) -> String {
        guard !value.isEmpty else { throw PostgresURLError("option '\(name)' is empty") }
        return value
    }

    /// Percent-decoding; a malformed escape or bytes that are not UTF-8 are refused.
    static func decode(_ text: Substring, part: String) throws(PostgresURLError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexDigit), let low = iterator.next().flatMap(hexDigit) else {
                throw PostgresURLError("malformed percent escape in the \(part)")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw PostgresURLError("the \(part) is not UTF-8 after percent-decoding")
        }
        return decoded
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

package struct PostgresURLError: Error, Equatable, CustomStringConvertible {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
    package var description: String { "storage.postgres \(reason)" }
}
