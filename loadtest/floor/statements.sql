-- A create_note's statements as the hub sends them (one session's statement log,
-- log_min_duration_statement = 0): the write's transaction (the access check that also
-- numbers the operation; the note; the operation with the outbox rows), then the outbox
-- flush's. Values stand in for the hub's (a short body, the two event frames' text at
-- their size).
\set p random(0, 1999)
BEGIN;
WITH access AS MATERIALIZED (SELECT draftline_role_for_change(md5('p' || :p)::uuid, 'u' || :p) AS role), next AS (UPDATE sessions SET operation_seq = operation_seq + 1 WHERE id = md5('s' || :p)::uuid AND (SELECT role FROM access) IS NOT NULL RETURNING operation_seq) SELECT (SELECT role FROM access) AS role, (SELECT operation_seq FROM next) AS seq, now() AS at
\gset
INSERT INTO notes (id, project_id, author_id, session_id, body, tags) VALUES (gen_random_uuid(), md5('p' || :p)::uuid, 'u' || :p, md5('s' || :p)::uuid, 'a note from the floor', '{}') RETURNING id, project_id, body, tags, author_id, session_id, created_at, updated_at;
WITH op AS (INSERT INTO operations (id, session_id, project_id, seq, tool, kind, entity, entity_id, data, before, after, status, error, created_at, executed_at, duration_ms, rollback_of, suggestion, reason, recovers) VALUES (gen_random_uuid(), md5('s' || :p)::uuid, md5('p' || :p)::uuid, :seq, 'create_note', 'create', 'note', gen_random_uuid()::text, '{"body": "a note from the floor"}', NULL, jsonb_build_object('body', 'a note from the floor', 'tags', '[]'::jsonb, 'author_id', 'u' || :p, 'created_at', now(), 'updated_at', now(), 'id', gen_random_uuid(), 'project_id', md5('p' || :p)::uuid, 'session_id', md5('s' || :p)::uuid), 'completed', NULL, now(), now(), 0, NULL, false, NULL, NULL)) INSERT INTO event_outbox (project_id, topic, kind, head, tail) SELECT md5('p' || :p)::uuid, t.topic, t.kind, t.head, t.tail FROM unnest(ARRAY['project:' || md5('p' || :p), 'project:' || md5('p' || :p)], ARRAY['note.created', 'operation.created'], ARRAY[repeat('h', 90), repeat('h', 90)], ARRAY[repeat('n', 330), repeat('o', 900)]) WITH ORDINALITY AS t(topic, kind, head, tail, n) WHERE (SELECT pg_advisory_xact_lock(1, hashtext(md5('p' || :p))) IS NOT NULL) ORDER BY t.n;
COMMIT;
BEGIN;
WITH lock AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS setting, pg_advisory_xact_lock(2, hashtext(md5('p' || :p))) IS NOT NULL AS locked) DELETE FROM event_outbox WHERE id IN (SELECT id FROM event_outbox WHERE project_id = md5('p' || :p)::uuid AND (SELECT locked FROM lock) ORDER BY id LIMIT 256) RETURNING id, topic, kind, head, tail;
COMMIT;
