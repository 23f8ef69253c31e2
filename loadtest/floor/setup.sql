-- The floor of a create_note in Postgres alone (`loadtest floor`): 2,000 projects, each
-- with one owner and one session, as `loadtest tools` gives each session its own; every
-- transaction writes to one picked at random. Ids are derived from the number (md5 as a
-- uuid), so the scripts name them without a lookup.
INSERT INTO projects (id, owner_id, name)
SELECT md5('p' || n)::uuid, 'u' || n, 'floor ' || n FROM generate_series(0, 1999) n;
INSERT INTO project_members (project_id, user_id, role)
SELECT md5('p' || n)::uuid, 'u' || n, 'owner' FROM generate_series(0, 1999) n;
INSERT INTO sessions (id, user_id, project_id, mode)
SELECT md5('s' || n)::uuid, 'u' || n, md5('p' || n)::uuid, 'general' FROM generate_series(0, 1999) n;
