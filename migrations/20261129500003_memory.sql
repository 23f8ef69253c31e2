-- Memory: what the assistant learned about a person and a project (a preference, a
-- fact, a decision), with where it was learned, kept across sessions and given to new
-- sessions, drafts and chat replies newest first.
CREATE TABLE memory_entries (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('preference', 'fact', 'decision')),
    body        text NOT NULL,
    source_kind text CHECK (source_kind IN ('transcript_item', 'note', 'operation')),
    source_id   text,
    session_id  uuid REFERENCES sessions (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((source_kind IS NULL) = (source_id IS NULL))
);
CREATE INDEX memory_entries_by_project ON memory_entries (project_id, created_at DESC);
