-- A create_note's statements as the hub sends them (one session's statement log,
-- log_min_duration_statement = 0): the write's transaction, then the outbox flush's.
-- Values stand in for the hub's (a short body, the two event frames' text at their size).
\set p random(0, 1999)
BEGIN;
SELECT draftline_role_for_change(md5('p' || :p)::uuid, 'u' || :p);
INSERT INTO notes (id, project_id, author_id, session_id, body, tags) VALUES (gen_random_uuid(), md5('p' || :p)::uuid, 'u' || :p, md5('s' || :p)::uuid, 'a note from the floor', '{}') RETURNING id, project_id, body, tags, author_id, session_id, created_at, updated_at;
WITH next AS (UPDATE sessions SET operation_seq = operation_seq + 1 WHERE id = md5('s' || :p)::uuid RETURNING operation_seq) INSERT INTO operations (id, session_id, project_id, seq, tool, kind, entity, entity_id, data, before, after, status, error, executed_at, duration_ms, rollback_of, suggestion, reason, recovers) SELECT gen_random_uuid(), md5('s' || :p)::uuid, md5('p' || :p)::uuid, next.operation_seq, 'create_note', 'create', 'note', gen_random_uuid()::text, '{"body": "a note from the floor"}', NULL, jsonb_build_object('body', 'a note from the floor', 'tags', '[]'::jsonb, 'author_id', 'u' || :p, 'created_at', now(), 'updated_at', now(), 'id', gen_random_uuid(), 'project_id', md5('p' || :p)::uuid, 'session_id', md5('s' || :p)::uuid), 'completed', NULL, now(), 0, NULL, false, NULL, NULL FROM next RETURNING id, session_id, project_id, batch_id, seq, tool, kind, entity, entity_id, data, before, after, status, error, decided_by, created_at, executed_at, duration_ms, rolled_back_by, rollback_of, suggestion, reason, recovers;
INSERT INTO event_outbox (project_id, topic, kind, head, tail) SELECT md5('p' || :p)::uuid, t.topic, t.kind, t.head, t.tail FROM unnest(ARRAY['project:' || md5('p' || :p), 'project:' || md5('p' || :p)], ARRAY['note.created', 'operation.created'], ARRAY[repeat('h', 90), repeat('h', 90)], ARRAY[repeat('n', 330), repeat('o', 900)]) WITH ORDINALITY AS t(topic, kind, head, tail, n) WHERE (SELECT pg_advisory_xact_lock(1, hashtext(md5('p' || :p))) IS NOT NULL) ORDER BY t.n;
COMMIT;
BEGIN;
WITH lock AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS setting, pg_advisory_xact_lock(2, hashtext(md5('p' || :p))) IS NOT NULL AS locked) DELETE FROM event_outbox WHERE id IN (SELECT id FROM event_outbox WHERE project_id = md5('p' || :p)::uuid AND (SELECT locked FROM lock) ORDER BY id LIMIT 256) RETURNING id, topic, kind, head, tail;
COMMIT;
