import FieldgateCore
import NIOSSL
import PostgresNIO

/// `storage.postgres` as a postgres-nio client configuration: TLS as libpq's `sslmode` means it, a bounded pool,
/// and session settings the store's guarantees depend on.
enum PostgresConnectionSettings {
    static func client(_ url: PostgresURL) throws -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: url.host,
            port: url.port,
            username: url.user,
            password: url.password,
            database: url.database,
            tls: try tls(url)
        )
        configuration.options.connectTimeout = url.connectTimeout
        configuration.options.maximumConnections = url.poolSize
        // Two warm connections: the LISTEN connection and one for the committer, so that the first request after
        // a quiet period does not wait for a TCP and TLS handshake.
        configuration.options.minimumConnections = 2
        configuration.options.additionalStartupParameters = [
            ("application_name", url.applicationName),
            // A 202 is sent only after COMMIT returns; with this off PostgreSQL would answer before the WAL is
            // flushed. Set per session so that a server default cannot weaken it.
            ("synchronous_commit", "on"),
            // A statement stuck behind a lock this long means something is wrong; fail it (503) rather than hold
            // a vendor's request.
            ("lock_timeout", "5s"),
            ("idle_in_transaction_session_timeout", "60s"),
        ]
        return configuration
    }

    static func tls(_ url: PostgresURL) throws -> PostgresClient.Configuration.TLS {
        var settings = TLSConfiguration.makeClientConfiguration()
        if let root = url.rootCertificatePath {
            settings.trustRoots = .file(root)
        }
        if let certificate = url.clientCertificatePath, let key = url.clientKeyPath {
            settings.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            settings.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        switch url.tlsMode {
        case .disable:
            return .disable
        case .prefer:
            settings.certificateVerification = .none
            return .prefer(settings)
        case .require:
            // libpq: `require` with a root certificate behaves like `verify-ca`.
            settings.certificateVerification = url.rootCertificatePath == nil ? .none : .noHostnameVerification
            return .require(settings)
        case .verifyCA:
            settings.certificateVerification = .noHostnameVerification
            return .require(settings)
        case .verifyFull:
            settings.certificateVerification = .fullVerification
            return .require(settings)
        }
    }
}
