/// The statements every batch runs, as server-side functions: PL/pgSQL plans each statement once per session and
/// reuses the plan, where a statement sent as text is parsed and planned at every call. Measured before this:
/// planning the ingest write, the claim and the due-time query cost PostgreSQL more than running them.
///
/// Each function is one call from the gateway, so a transaction is BEGIN, a call, a call and COMMIT, sent back to
/// back where one does not need the other's answer. Output columns carry a prefix so that they cannot be mistaken
/// for table columns inside the functions.
enum HotPathFunctions {
    static let version3: [String] = [
        // Under the commit-order lock (held to COMMIT), with a NOTIFY for the batch's commit: what an ingest batch
        // needs to decide — the highest numbers (kind 0), its first-occurrence event IDs (1), its jobs (2) and the
        // quarantined requests it replays (3). Each RETURN QUERY takes its snapshot after the lock was granted.
        """
        CREATE FUNCTION fieldgate_ingest_state(p_ids text[], p_job_keys text[], p_quarantine_ids text[])
        RETURNS TABLE (r_kind integer, r_id text, r_number bigint, r_json bytea, r_a bigint, r_b bigint,
                       r_vendor text, r_tenant text, r_job_id text, r_status text, r_code text, r_name text,
                       r_last_event_at bigint, r_last_event_id text, r_last_sequence bigint, r_event_count integer)
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(\(PostgresSchema.commitOrderLock));
            PERFORM pg_notify('\(PostgresSchema.channel)', 'events');
            RETURN QUERY SELECT 0, NULL::text, NULL::bigint, NULL::bytea,
                (SELECT COALESCE(max(e.sequence), 0) FROM event e), (SELECT COALESCE(max(d.id), 0) FROM delivery d),
                NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::text,
                NULL::bigint, NULL::integer;
            RETURN QUERY SELECT 1, e.id, e.key_expires_at, e.json, NULL::bigint, NULL::bigint, NULL::text, NULL::text,
                NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::integer
                FROM event e WHERE e.id = ANY(p_ids);
            RETURN QUERY SELECT 2, j.key::text, NULL::bigint, NULL::bytea, j.status_at, j.status_sequence, j.vendor,
                j.tenant, j.job_id, j.status, j.vendor_status_code, j.vendor_status_name, j.last_event_at,
                j.last_event_id, j.last_sequence, j.event_count
                FROM job j WHERE j.key = ANY(p_job_keys);
            RETURN QUERY SELECT 3, q.id, q.replayed_at, NULL::bytea, NULL::bigint, NULL::bigint, NULL::text,
                NULL::text, NULL::text, q.replayed_as, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::bigint,
                NULL::integer
                FROM quarantine q WHERE q.id = ANY(p_quarantine_ids);
        END
        $$
        """,
        // Everything an ingest batch decided: superseded keys, events, deliveries (for subscribers that exist and
        // are enabled now), job rows, replay marks. Arrays cannot carry NULL through postgres-nio: -1, the empty
        // string and flags stand for it.
        """
        CREATE FUNCTION fieldgate_write_events(
            s_id text[], s_until bigint[],
            e_sequence bigint[], e_id text[], e_vendor text[], e_tenant text[], e_type text[], e_job_key text[],
            e_status text[], e_time bigint[], e_received_at bigint[], e_json bytea[], e_method text[], e_path text[],
            e_headers text[], e_body bytea[], e_expires bigint[], e_chain bigint[],
            d_id bigint[], d_event text[], d_subscriber text[], d_job_key text[], d_due bigint[],
            j_key text[], j_vendor text[], j_tenant text[], j_job_id text[], j_status text[], j_has_code boolean[],
            j_code text[], j_has_name boolean[], j_name text[], j_status_at bigint[], j_status_sequence bigint[],
            j_last_event_at bigint[], j_last_event_id text[], j_last_sequence bigint[], j_event_count integer[],
            j_updated_at bigint[],
            q_id text[], q_event text[], q_at bigint[])
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            IF cardinality(s_id) > 0 THEN
                UPDATE event e SET key_expires_at = NULL, chain_expires_at = GREATEST(e.chain_expires_at, s.until)
                FROM unnest(s_id, s_until) AS s(id, until) WHERE e.id = s.id;
            END IF;
            INSERT INTO event (sequence, id, vendor, tenant, type, job_key, status, time, received_at, json,
                               raw_method, raw_path, raw_headers, raw_body, key_expires_at, chain_expires_at)
            SELECT i.sequence, i.id, i.vendor, i.tenant, i.type, NULLIF(i.job_key, ''), NULLIF(i.status, ''),
                   i.time, i.received_at, i.json, i.raw_method, i.raw_path, i.raw_headers, i.raw_body,
                   NULLIF(i.key_expires_at, -1), NULLIF(i.chain_expires_at, -1)
            FROM unnest(e_sequence, e_id, e_vendor, e_tenant, e_type, e_job_key, e_status, e_time, e_received_at,
                        e_json, e_method, e_path, e_headers, e_body, e_expires, e_chain)
                AS i(sequence, id, vendor, tenant, type, job_key, status, time, received_at, json, raw_method,
                     raw_path, raw_headers, raw_body, key_expires_at, chain_expires_at);
            IF cardinality(d_id) > 0 THEN
                INSERT INTO delivery (id, event_id, subscriber_id, job_key, state, attempts, next_attempt_at,
                                      created_at)
                SELECT q.id, q.event_id, q.subscriber_id, NULLIF(q.job_key, ''), 'pending', 0, q.due, q.due
                FROM unnest(d_id, d_event, d_subscriber, d_job_key, d_due)
                    AS q(id, event_id, subscriber_id, job_key, due)
                WHERE EXISTS (SELECT 1 FROM subscriber s WHERE s.id = q.subscriber_id AND s.enabled);
            END IF;
            IF cardinality(j_key) > 0 THEN
                INSERT INTO job (key, vendor, tenant, job_id, status, vendor_status_code, vendor_status_name,
                                 status_at, status_sequence, last_event_at, last_event_id, last_sequence,
                                 event_count, updated_at)
                SELECT j.key, j.vendor, j.tenant, j.job_id, NULLIF(j.status, ''),
                       CASE WHEN j.has_code THEN j.code END, CASE WHEN j.has_name THEN j.name END,
                       CASE WHEN j.status_sequence <> -1 THEN j.status_at END, NULLIF(j.status_sequence, -1),
                       j.last_event_at, j.last_event_id, j.last_sequence, j.event_count, j.updated_at
                FROM unnest(j_key, j_vendor, j_tenant, j_job_id, j_status, j_has_code, j_code, j_has_name, j_name,
                            j_status_at, j_status_sequence, j_last_event_at, j_last_event_id, j_last_sequence,
                            j_event_count, j_updated_at)
                    AS j(key, vendor, tenant, job_id, status, has_code, code, has_name, name, status_at,
                         status_sequence, last_event_at, last_event_id, last_sequence, event_count, updated_at)
                ON CONFLICT (key) DO UPDATE SET
                    status = excluded.status, vendor_status_code = excluded.vendor_status_code,
                    vendor_status_name = excluded.vendor_status_name, status_at = excluded.status_at,
                    status_sequence = excluded.status_sequence, last_event_at = excluded.last_event_at,
                    last_event_id = excluded.last_event_id, last_sequence = excluded.last_sequence,
                    event_count = excluded.event_count, updated_at = excluded.updated_at;
            END IF;
            IF cardinality(q_id) > 0 THEN
                UPDATE quarantine q SET replayed_as = r.event_id, replayed_at = r.at
                FROM unnest(q_id, q_event, q_at) AS r(id, event_id, at) WHERE q.id = r.id;
            END IF;
        END
        $$
        """,
        // Fair claims (DeliveryStore.claimDueDeliveries): per enabled, unpaused subscriber its room and its oldest
        // due delivery; for those with room, oldest due first, its due deliveries under the per-job rule, FOR
        // UPDATE SKIP LOCKED; leased in the same statement for the subscriber's timeout (clamped) plus the margin.
        """
        CREATE FUNCTION fieldgate_claim(p_now bigint, p_paused text[], p_flight_ids text[], p_flight_counts bigint[],
                                        p_limit integer, p_margin bigint, p_min_timeout bigint, p_max_timeout bigint)
        RETURNS TABLE (c_id bigint, c_event_id text, c_subscriber_id text, c_job_key text, c_state text,
                       c_attempts integer, c_next_attempt_at bigint, c_last_status integer, c_last_error text,
                       c_created_at bigint, c_delivered_at bigint, c_json bytea)
        LANGUAGE plpgsql AS $$
        BEGIN
            RETURN QUERY
            WITH waiting AS (
                SELECT s.id AS subscriber, s.timeout_ms, s.max_concurrency - GREATEST(
                           (SELECT count(*) FROM delivery l
                            WHERE l.subscriber_id = s.id AND l.state = 'pending' AND l.lease_until > p_now),
                           COALESCE(f.count, 0)) AS room,
                       (SELECT min(d.next_attempt_at) FROM delivery d
                        WHERE d.subscriber_id = s.id AND d.state = 'pending' AND d.next_attempt_at <= p_now) AS since
                FROM subscriber s
                LEFT JOIN unnest(p_flight_ids, p_flight_counts) AS f(id, count) ON f.id = s.id
                WHERE s.enabled AND NOT (s.id = ANY(p_paused))
            ),
            chosen AS (
                SELECT w.subscriber, w.timeout_ms, LEAST(w.room, p_limit) AS room, w.since FROM waiting w
                WHERE w.room > 0 AND w.since IS NOT NULL ORDER BY w.since, w.subscriber LIMIT p_limit
            ),
            claimed AS (
                SELECT c.*, w.timeout_ms, w.since FROM chosen w CROSS JOIN LATERAL (
                    SELECT d.id, d.event_id, d.subscriber_id, d.job_key, d.state, d.attempts, d.next_attempt_at,
                           d.last_status, d.last_error, d.created_at, d.delivered_at, e.json
                    FROM delivery d JOIN event e ON e.id = d.event_id
                    WHERE d.subscriber_id = w.subscriber AND d.state = 'pending' AND d.next_attempt_at <= p_now
                      AND (d.lease_until IS NULL OR d.lease_until <= p_now)
                      AND (d.job_key IS NULL OR NOT EXISTS (
                          SELECT 1 FROM delivery p
                          WHERE p.subscriber_id = d.subscriber_id AND p.job_key = d.job_key AND p.state = 'pending'
                            AND p.id < d.id))
                    ORDER BY d.next_attempt_at, d.id
                    LIMIT w.room
                    FOR UPDATE OF d SKIP LOCKED
                ) c
                ORDER BY w.since, w.subscriber, c.next_attempt_at, c.id
                LIMIT p_limit
            ),
            leased AS (
                UPDATE delivery d SET lease_until = p_now + LEAST(GREATEST(c.timeout_ms, p_min_timeout), p_max_timeout)
                                                    + p_margin
                FROM claimed c WHERE d.id = c.id
                RETURNING d.id
            )
            SELECT c.id, c.event_id, c.subscriber_id, c.job_key, c.state, c.attempts, c.next_attempt_at,
                   c.last_status, c.last_error, c.created_at, c.delivered_at, c.json
            FROM claimed c WHERE c.id IN (SELECT l.id FROM leased l)
            ORDER BY c.since, c.subscriber_id, c.next_attempt_at, c.id;
        END
        $$
        """,
        // The earliest future due time or lease end over enabled subscribers, each an index seek.
        """
        CREATE FUNCTION fieldgate_next_due(p_now bigint) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE earliest bigint;
        BEGIN
            SELECT min(LEAST(
                (SELECT min(d.next_attempt_at) FROM delivery d
                 WHERE d.subscriber_id = s.id AND d.state = 'pending' AND d.next_attempt_at > p_now),
                (SELECT min(d.lease_until) FROM delivery d
                 WHERE d.subscriber_id = s.id AND d.state = 'pending' AND d.lease_until > p_now)))
            INTO earliest
            FROM subscriber s WHERE s.enabled;
            RETURN earliest;
        END
        $$
        """,
    ]

    /// Claims move out of the delivery row. A lease written into the row cost every claim a full new version of
    /// it (seven index entries, dead tuples at the head of the due-time index that every later claim walks past),
    /// and `FOR UPDATE` a second heap write. A claim is now a row in `delivery_claim`, inserted with ON CONFLICT:
    /// the primary key makes two instances claiming one delivery at once take turns (the second sees a live lease
    /// and claims nothing), and a lease that ran out is taken over in place. Recording an attempt deletes it.
    static let version4: [String] = [
        """
        CREATE TABLE delivery_claim (
            delivery_id bigint PRIMARY KEY,
            subscriber_id text NOT NULL,
            lease_until bigint NOT NULL
        )
        """,
        "CREATE INDEX delivery_claim_subscriber ON delivery_claim (subscriber_id, lease_until)",
        """
        INSERT INTO delivery_claim (delivery_id, subscriber_id, lease_until)
        SELECT id, subscriber_id, lease_until FROM delivery WHERE state = 'pending' AND lease_until IS NOT NULL
        """,
        "DROP FUNCTION fieldgate_claim(bigint, text[], text[], bigint[], integer, bigint, bigint, bigint)",
        "DROP FUNCTION fieldgate_next_due(bigint)",
        "DROP INDEX delivery_lease",
        "ALTER TABLE delivery DROP COLUMN lease_until",
        // Fair claims (DeliveryStore.claimDueDeliveries): per enabled, unpaused subscriber its room (maxConcurrency
        // less the larger of its live claims and this instance's count) and its oldest due delivery; for those
        // with room, oldest due first, its due deliveries without a live claim under the per-job rule; claimed in
        // id order (instances claiming overlapping rows take them in one order: no deadlock) for the subscriber's
        // timeout (clamped) plus the margin. Only the rows the claim won are returned.
        """
        CREATE FUNCTION fieldgate_claim(p_now bigint, p_paused text[], p_flight_ids text[], p_flight_counts bigint[],
                                        p_limit integer, p_margin bigint, p_min_timeout bigint, p_max_timeout bigint)
        RETURNS TABLE (c_id bigint, c_event_id text, c_subscriber_id text, c_job_key text, c_state text,
                       c_attempts integer, c_next_attempt_at bigint, c_last_status integer, c_last_error text,
                       c_created_at bigint, c_delivered_at bigint, c_json bytea)
        LANGUAGE plpgsql AS $$
        BEGIN
            RETURN QUERY
            WITH waiting AS (
                SELECT s.id AS subscriber, s.timeout_ms, s.max_concurrency - GREATEST(
                           (SELECT count(*) FROM delivery_claim l
                            WHERE l.subscriber_id = s.id AND l.lease_until > p_now),
                           COALESCE(f.count, 0)) AS room,
                       (SELECT min(d.next_attempt_at) FROM delivery d
                        WHERE d.subscriber_id = s.id AND d.state = 'pending' AND d.next_attempt_at <= p_now) AS since
                FROM subscriber s
                LEFT JOIN unnest(p_flight_ids, p_flight_counts) AS f(id, count) ON f.id = s.id
                WHERE s.enabled AND NOT (s.id = ANY(p_paused))
            ),
            chosen AS (
                SELECT w.subscriber, w.timeout_ms, LEAST(w.room, p_limit) AS room, w.since FROM waiting w
                WHERE w.room > 0 AND w.since IS NOT NULL ORDER BY w.since, w.subscriber LIMIT p_limit
            ),
            candidates AS (
                SELECT c.*, w.timeout_ms, w.since FROM chosen w CROSS JOIN LATERAL (
                    SELECT d.id, d.event_id, d.subscriber_id, d.job_key, d.state, d.attempts, d.next_attempt_at,
                           d.last_status, d.last_error, d.created_at, d.delivered_at
                    FROM delivery d
                    WHERE d.subscriber_id = w.subscriber AND d.state = 'pending' AND d.next_attempt_at <= p_now
                      AND NOT EXISTS (
                          SELECT 1 FROM delivery_claim l WHERE l.delivery_id = d.id AND l.lease_until > p_now)
                      AND (d.job_key IS NULL OR NOT EXISTS (
                          SELECT 1 FROM delivery p
                          WHERE p.subscriber_id = d.subscriber_id AND p.job_key = d.job_key AND p.state = 'pending'
                            AND p.id < d.id))
                    ORDER BY d.next_attempt_at, d.id
                    LIMIT w.room
                ) c
                ORDER BY w.since, w.subscriber, c.next_attempt_at, c.id
                LIMIT p_limit
            ),
            claimed AS (
                INSERT INTO delivery_claim (delivery_id, subscriber_id, lease_until)
                SELECT c.id, c.subscriber_id,
                       p_now + LEAST(GREATEST(c.timeout_ms, p_min_timeout), p_max_timeout) + p_margin
                FROM candidates c ORDER BY c.id
                ON CONFLICT (delivery_id) DO UPDATE SET lease_until = excluded.lease_until
                    WHERE delivery_claim.lease_until <= p_now
                RETURNING delivery_claim.delivery_id
            )
            SELECT c.id, c.event_id, c.subscriber_id, c.job_key, c.state, c.attempts, c.next_attempt_at,
                   c.last_status, c.last_error, c.created_at, c.delivered_at, e.json
            FROM candidates c JOIN claimed k ON k.delivery_id = c.id JOIN event e ON e.id = c.event_id
            ORDER BY c.since, c.subscriber_id, c.next_attempt_at, c.id;
        END
        $$
        """,
        // The earliest future due time or lease end over enabled subscribers, each an index seek.
        """
        CREATE FUNCTION fieldgate_next_due(p_now bigint) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE earliest bigint;
        BEGIN
            SELECT min(LEAST(
                (SELECT min(d.next_attempt_at) FROM delivery d
                 WHERE d.subscriber_id = s.id AND d.state = 'pending' AND d.next_attempt_at > p_now),
                (SELECT min(l.lease_until) FROM delivery_claim l
                 WHERE l.subscriber_id = s.id AND l.lease_until > p_now)))
            INTO earliest
            FROM subscriber s WHERE s.enabled;
            RETURN earliest;
        END
        $$
        """,
    ]

    /// Optimistic ingest: a batch reads and decides without the commit-order lock, and takes it only to write,
    /// after checking that nothing it decided on has changed — none of its new event IDs taken, each job row it
    /// folds into at the version it read, each request it replays still unreplayed. Its numbers are then moved up
    /// past whatever other instances committed since it read. When a check fails (another instance took the same
    /// key or wrote the same job at the same moment), nothing is written and the batch is decided again under the
    /// lock. The lock is held for the write and COMMIT only, not while the gateway decides.
    static let version5: [String] = [
        """
        CREATE FUNCTION fieldgate_ingest_read(p_ids text[], p_job_keys text[], p_quarantine_ids text[])
        RETURNS TABLE (r_kind integer, r_id text, r_number bigint, r_json bytea, r_a bigint, r_b bigint,
                       r_vendor text, r_tenant text, r_job_id text, r_status text, r_code text, r_name text,
                       r_last_event_at bigint, r_last_event_id text, r_last_sequence bigint, r_event_count integer)
        LANGUAGE plpgsql AS $$
        BEGIN
            RETURN QUERY SELECT 0, NULL::text, NULL::bigint, NULL::bytea,
                (SELECT COALESCE(max(e.sequence), 0) FROM event e), (SELECT COALESCE(max(d.id), 0) FROM delivery d),
                NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::text,
                NULL::bigint, NULL::integer;
            RETURN QUERY SELECT 1, e.id, e.key_expires_at, e.json, NULL::bigint, NULL::bigint, NULL::text, NULL::text,
                NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::bigint, NULL::integer
                FROM event e WHERE e.id = ANY(p_ids);
            RETURN QUERY SELECT 2, j.key::text, NULL::bigint, NULL::bytea, j.status_at, j.status_sequence, j.vendor,
                j.tenant, j.job_id, j.status, j.vendor_status_code, j.vendor_status_name, j.last_event_at,
                j.last_event_id, j.last_sequence, j.event_count
                FROM job j WHERE j.key = ANY(p_job_keys);
            RETURN QUERY SELECT 3, q.id, q.replayed_at, NULL::bytea, NULL::bigint, NULL::bigint, NULL::text,
                NULL::text, NULL::text, q.replayed_as, NULL::text, NULL::text, NULL::bigint, NULL::text, NULL::bigint,
                NULL::integer
                FROM quarantine q WHERE q.id = ANY(p_quarantine_ids);
        END
        $$
        """,
        """
        CREATE FUNCTION fieldgate_write_events_checked(
            p_sequence_base bigint, p_delivery_base bigint, x_job_key text[], x_job_last bigint[], x_job_count integer[],
            s_id text[], s_until bigint[],
            e_sequence bigint[], e_id text[], e_vendor text[], e_tenant text[], e_type text[], e_job_key text[],
            e_status text[], e_time bigint[], e_received_at bigint[], e_json bytea[], e_method text[], e_path text[],
            e_headers text[], e_body bytea[], e_expires bigint[], e_chain bigint[],
            d_id bigint[], d_event text[], d_subscriber text[], d_job_key text[], d_due bigint[],
            j_key text[], j_vendor text[], j_tenant text[], j_job_id text[], j_status text[], j_has_code boolean[],
            j_code text[], j_has_name boolean[], j_name text[], j_status_at bigint[], j_status_sequence bigint[],
            j_last_event_at bigint[], j_last_event_id text[], j_last_sequence bigint[], j_event_count integer[],
            j_updated_at bigint[],
            q_id text[], q_event text[], q_at bigint[])
        RETURNS boolean LANGUAGE plpgsql AS $$
        DECLARE shift bigint; delivery_shift bigint;
        BEGIN
            PERFORM pg_advisory_xact_lock(\(PostgresSchema.commitOrderLock));
            IF EXISTS (SELECT 1 FROM event e WHERE e.id = ANY(e_id)) THEN RETURN false; END IF;
            IF EXISTS (SELECT 1 FROM unnest(x_job_key, x_job_last, x_job_count) AS x(key, last, count)
                       LEFT JOIN job j ON j.key = x.key
                       WHERE j.last_sequence IS DISTINCT FROM NULLIF(x.last, -1)
                          OR j.event_count IS DISTINCT FROM NULLIF(x.count, -1)) THEN RETURN false; END IF;
            IF EXISTS (SELECT 1 FROM quarantine q WHERE q.id = ANY(q_id) AND q.replayed_as IS NOT NULL) THEN
                RETURN false;
            END IF;
            PERFORM pg_notify('\(PostgresSchema.channel)', 'events');
            shift := (SELECT COALESCE(max(e.sequence), 0) FROM event e) - p_sequence_base;
            delivery_shift := (SELECT COALESCE(max(d.id), 0) FROM delivery d) - p_delivery_base;
            PERFORM fieldgate_write_events(
                s_id, s_until,
                ARRAY(SELECT v + shift FROM unnest(e_sequence) WITH ORDINALITY AS u(v, n) ORDER BY n),
                e_id, e_vendor, e_tenant, e_type, e_job_key, e_status, e_time, e_received_at, e_json, e_method,
                e_path, e_headers, e_body, e_expires, e_chain,
                ARRAY(SELECT v + delivery_shift FROM unnest(d_id) WITH ORDINALITY AS u(v, n) ORDER BY n),
                d_event, d_subscriber, d_job_key, d_due,
                j_key, j_vendor, j_tenant, j_job_id, j_status, j_has_code, j_code, j_has_name, j_name, j_status_at,
                ARRAY(SELECT CASE WHEN v > p_sequence_base THEN v + shift ELSE v END
                      FROM unnest(j_status_sequence) WITH ORDINALITY AS u(v, n) ORDER BY n),
                j_last_event_at, j_last_event_id,
                ARRAY(SELECT CASE WHEN v > p_sequence_base THEN v + shift ELSE v END
                      FROM unnest(j_last_sequence) WITH ORDINALITY AS u(v, n) ORDER BY n),
                j_event_count, j_updated_at,
                q_id, q_event, q_at);
            RETURN true;
        END
        $$
        """,
    ]

    /// Claims by two instances at once: with only the claim table's primary key, both picked the same oldest rows
    /// and the second waited for the first to commit, then claimed nothing. Locking the candidates
    /// `FOR UPDATE SKIP LOCKED` (a lock, not a new row version) sends the second to the next rows.
    static let version6: [String] = [
        // As in version 4, with the candidates locked FOR UPDATE SKIP LOCKED: an instance claiming while another
        // is takes the next rows instead of waiting for the other's claims and coming away with nothing.
        """
        CREATE OR REPLACE FUNCTION fieldgate_claim(p_now bigint, p_paused text[], p_flight_ids text[], p_flight_counts bigint[],
                                        p_limit integer, p_margin bigint, p_min_timeout bigint, p_max_timeout bigint)
        RETURNS TABLE (c_id bigint, c_event_id text, c_subscriber_id text, c_job_key text, c_state text,
                       c_attempts integer, c_next_attempt_at bigint, c_last_status integer, c_last_error text,
                       c_created_at bigint, c_delivered_at bigint, c_json bytea)
        LANGUAGE plpgsql AS $$
        BEGIN
            RETURN QUERY
            WITH waiting AS (
                SELECT s.id AS subscriber, s.timeout_ms, s.max_concurrency - GREATEST(
                           (SELECT count(*) FROM delivery_claim l
                            WHERE l.subscriber_id = s.id AND l.lease_until > p_now),
                           COALESCE(f.count, 0)) AS room,
                       (SELECT min(d.next_attempt_at) FROM delivery d
                        WHERE d.subscriber_id = s.id AND d.state = 'pending' AND d.next_attempt_at <= p_now) AS since
                FROM subscriber s
                LEFT JOIN unnest(p_flight_ids, p_flight_counts) AS f(id, count) ON f.id = s.id
                WHERE s.enabled AND NOT (s.id = ANY(p_paused))
            ),
            chosen AS (
                SELECT w.subscriber, w.timeout_ms, LEAST(w.room, p_limit) AS room, w.since FROM waiting w
                WHERE w.room > 0 AND w.since IS NOT NULL ORDER BY w.since, w.subscriber LIMIT p_limit
            ),
            candidates AS (
                SELECT c.*, w.timeout_ms, w.since FROM chosen w CROSS JOIN LATERAL (
                    SELECT d.id, d.event_id, d.subscriber_id, d.job_key, d.state, d.attempts, d.next_attempt_at,
                           d.last_status, d.last_error, d.created_at, d.delivered_at
                    FROM delivery d
                    WHERE d.subscriber_id = w.subscriber AND d.state = 'pending' AND d.next_attempt_at <= p_now
                      AND NOT EXISTS (
                          SELECT 1 FROM delivery_claim l WHERE l.delivery_id = d.id AND l.lease_until > p_now)
                      AND (d.job_key IS NULL OR NOT EXISTS (
                          SELECT 1 FROM delivery p
                          WHERE p.subscriber_id = d.subscriber_id AND p.job_key = d.job_key AND p.state = 'pending'
                            AND p.id < d.id))
                    ORDER BY d.next_attempt_at, d.id
                    LIMIT w.room
                    FOR UPDATE OF d SKIP LOCKED
                ) c
                ORDER BY w.since, w.subscriber, c.next_attempt_at, c.id
                LIMIT p_limit
            ),
            claimed AS (
                INSERT INTO delivery_claim (delivery_id, subscriber_id, lease_until)
                SELECT c.id, c.subscriber_id,
                       p_now + LEAST(GREATEST(c.timeout_ms, p_min_timeout), p_max_timeout) + p_margin
                FROM candidates c ORDER BY c.id
                ON CONFLICT (delivery_id) DO UPDATE SET lease_until = excluded.lease_until
                    WHERE delivery_claim.lease_until <= p_now
                RETURNING delivery_claim.delivery_id
            )
            SELECT c.id, c.event_id, c.subscriber_id, c.job_key, c.state, c.attempts, c.next_attempt_at,
                   c.last_status, c.last_error, c.created_at, c.delivered_at, e.json
            FROM candidates c JOIN claimed k ON k.delivery_id = c.id JOIN event e ON e.id = c.event_id
            ORDER BY c.since, c.subscriber_id, c.next_attempt_at, c.id;
        END
        $$
        """
    ]

    /// Every hot-path function plans without sequential scans. PL/pgSQL keeps one generic plan per statement for
    /// the life of a connection, and a plan made while a table was nearly empty (a new database, the first minutes
    /// of a test or a measurement) scans it whole for ever: `EXISTS (… WHERE e.id = ANY(…))` costed its first
    /// match as cheaper by scan than by index, and the job read did the same. Measured with pg_stat_statements
    /// (track = all) under `wrk -c64`: those two statements took 9.1 and 6.9 ms of every 20 ms batch at 22,000
    /// rows, growing with the table; with this setting 0.06–0.09 and 0.03 ms, and ingest went from 1,450 to
    /// 4,900–9,100 requests/s over seven runs (docs/PERFORMANCE.md). Every statement in these functions looks rows up by key or walks an index in order, so an index
    /// is the right plan at every size; `enable_seqscan = off` only makes it the plan at every size.
    static let version7: [String] = [
        """
        DO $$
        DECLARE f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                     WHERE p.pronamespace = current_schema()::regnamespace
                       AND p.proname IN ('fieldgate_ingest_state', 'fieldgate_ingest_read', 'fieldgate_write_events',
                                         'fieldgate_write_events_checked', 'fieldgate_claim', 'fieldgate_next_due')
            LOOP
                EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
            END LOOP;
        END
        $$
        """
    ]

    /// Two faults of the claim found with `auto_explain` (nested statements, analyze) on 38,000 pending
    /// deliveries over 3,000 jobs, after `ANALYZE` had seen the table empty:
    /// - The per-job rule, written as `NOT EXISTS (an earlier pending delivery of the job)`, matched the due-time
    ///   index as well as the job index (`p.id < d.id` is a condition on the due-time index's last column), and
    ///   without statistics both cost the same: the plan walked every pending delivery of the subscriber, 1.2 ms
    ///   per candidate, 83 ms a claim, 442 deliveries/s. Asked as "is this the job's first pending delivery" —
    ///   `ORDER BY id LIMIT 1` under equality on subscriber and job — it is one short index walk: 1.1–1.6 ms a
    ///   claim. Not "whatever the statistics say", as first written here: without statistics `delivery_subscriber`
    ///   (subscriber, state, id) with a filter on the job costs the same and was chosen, 2.5 times slower per row
    ///   than `delivery_job` after `ANALYZE`; bulk writers analyze (``PostgresEventStore/analyze(_:)``).
    /// - `enable_seqscan = off` (version 7) prices a sequential scan that has no alternative — the subscriber
    ///   table in `fieldgate_next_due` — above `jit_above_cost`, and PostgreSQL compiled the statement with LLVM at
    ///   each call: 159 ms of a 185 ms call. None of these statements runs long enough for JIT to pay; it is off
    ///   for all of them.
    static let version8: [String] = [
        """
        CREATE OR REPLACE FUNCTION fieldgate_claim(p_now bigint, p_paused text[], p_flight_ids text[], p_flight_counts bigint[],
                                        p_limit integer, p_margin bigint, p_min_timeout bigint, p_max_timeout bigint)
        RETURNS TABLE (c_id bigint, c_event_id text, c_subscriber_id text, c_job_key text, c_state text,
                       c_attempts integer, c_next_attempt_at bigint, c_last_status integer, c_last_error text,
                       c_created_at bigint, c_delivered_at bigint, c_json bytea)
        LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
        BEGIN
            RETURN QUERY
            WITH waiting AS (
                SELECT s.id AS subscriber, s.timeout_ms, s.max_concurrency - GREATEST(
                           (SELECT count(*) FROM delivery_claim l
                            WHERE l.subscriber_id = s.id AND l.lease_until > p_now),
                           COALESCE(f.count, 0)) AS room,
                       (SELECT min(d.next_attempt_at) FROM delivery d
                        WHERE d.subscriber_id = s.id AND d.state = 'pending' AND d.next_attempt_at <= p_now) AS since
                FROM subscriber s
                LEFT JOIN unnest(p_flight_ids, p_flight_counts) AS f(id, count) ON f.id = s.id
                WHERE s.enabled AND NOT (s.id = ANY(p_paused))
            ),
            chosen AS (
                SELECT w.subscriber, w.timeout_ms, LEAST(w.room, p_limit) AS room, w.since FROM waiting w
                WHERE w.room > 0 AND w.since IS NOT NULL ORDER BY w.since, w.subscriber LIMIT p_limit
            ),
            candidates AS (
                SELECT c.*, w.timeout_ms, w.since FROM chosen w CROSS JOIN LATERAL (
                    SELECT d.id, d.event_id, d.subscriber_id, d.job_key, d.state, d.attempts, d.next_attempt_at,
                           d.last_status, d.last_error, d.created_at, d.delivered_at
                    FROM delivery d
                    WHERE d.subscriber_id = w.subscriber AND d.state = 'pending' AND d.next_attempt_at <= p_now
                      AND NOT EXISTS (
                          SELECT 1 FROM delivery_claim l WHERE l.delivery_id = d.id AND l.lease_until > p_now)
                      AND (d.job_key IS NULL OR d.id = (
                          SELECT p.id FROM delivery p
                          WHERE p.subscriber_id = d.subscriber_id AND p.job_key = d.job_key AND p.state = 'pending'
                          ORDER BY p.id LIMIT 1))
                    ORDER BY d.next_attempt_at, d.id
                    LIMIT w.room
                    FOR UPDATE OF d SKIP LOCKED
                ) c
                ORDER BY w.since, w.subscriber, c.next_attempt_at, c.id
                LIMIT p_limit
            ),
            claimed AS (
                INSERT INTO delivery_claim (delivery_id, subscriber_id, lease_until)
                SELECT c.id, c.subscriber_id,
                       p_now + LEAST(GREATEST(c.timeout_ms, p_min_timeout), p_max_timeout) + p_margin
                FROM candidates c ORDER BY c.id
                ON CONFLICT (delivery_id) DO UPDATE SET lease_until = excluded.lease_until
                    WHERE delivery_claim.lease_until <= p_now
                RETURNING delivery_claim.delivery_id
            )
            SELECT c.id, c.event_id, c.subscriber_id, c.job_key, c.state, c.attempts, c.next_attempt_at,
                   c.last_status, c.last_error, c.created_at, c.delivered_at, e.json
            FROM candidates c JOIN claimed k ON k.delivery_id = c.id JOIN event e ON e.id = c.event_id
            ORDER BY c.since, c.subscriber_id, c.next_attempt_at, c.id;
        END
        $$
        """,
        """
        DO $$
        DECLARE f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                     WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'fieldgate\\_%'
            LOOP
                EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off SET jit = off', f);
            END LOOP;
        END
        $$
        """,
    ]

    /// Event bodies and canonical JSON compress with LZ4 instead of pglz. TrackTik and Hellotracks rows pass the
    /// 2 kB TOAST threshold (measured on the generated corpus: 78 % of Hellotracks and 10 % of TrackTik bodies
    /// compressed), and pglz costs several times LZ4's CPU, inside the commit-order lock, for every such event
    /// — and again on every read of its JSON (each delivery claim). Only new rows change. A server built without
    /// LZ4, or older than PostgreSQL 14, keeps pglz: the migration does not fail for it.
    static let version9: [String] = [
        """
        DO $$
        BEGIN
            EXECUTE 'ALTER TABLE event ALTER COLUMN json SET COMPRESSION lz4, '
                || 'ALTER COLUMN raw_body SET COMPRESSION lz4, ALTER COLUMN raw_headers SET COMPRESSION lz4';
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'event columns keep the default compression: %', SQLERRM;
        END
        $$
        """
    ]
}
