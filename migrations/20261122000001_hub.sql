-- The hub's tables: projects and members, sessions and transcripts, notes, todos,
-- documents with their versions, and operations (PROTOCOL.md section 8).

CREATE TABLE projects (
    id                uuid PRIMARY KEY,
    owner_id          text NOT NULL,
    name              text NOT NULL,
    description       text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    blueprint         jsonb NOT NULL DEFAULT '{}',
    blueprint_draft   jsonb NOT NULL DEFAULT '{}',
    blueprint_version integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The owner is a member too (role 'owner'), so every access check is one lookup here.
CREATE TABLE project_members (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    text NOT NULL,
    role       text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_by_user ON project_members (user_id);

CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    user_id        text NOT NULL,
    project_id     uuid REFERENCES projects (id) ON DELETE SET NULL,
    mode           text NOT NULL,
    auto_accept    boolean NOT NULL DEFAULT true,
    metadata       jsonb NOT NULL DEFAULT '{}',
    client         jsonb,
    -- Counters for the session's operations and transcript items; bumped in the
    -- transaction that writes the row, so numbers are gap-free and ordered.
    operation_seq  bigint NOT NULL DEFAULT 0,
    transcript_seq bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE transcript_items (
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    item_id    text NOT NULL,
    role       text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    text       text NOT NULL,
    at         timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, seq),
    UNIQUE (session_id, item_id)
);

CREATE TABLE transcript_pointers (
    id         uuid PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    item_id    text NOT NULL,
    label      text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transcript_pointers_by_project ON transcript_pointers (project_id, created_at);

CREATE TABLE notes (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
    author_id  text NOT NULL,
    body       text NOT NULL,
    tags       text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_by_project ON notes (project_id, created_at DESC);

CREATE TABLE todos (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
    title      text NOT NULL,
    details    text NOT NULL DEFAULT '',
    status     text NOT NULL DEFAULT 'open'
               CHECK (status IN ('open', 'in_progress', 'done', 'blocked')),
    priority   text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX todos_by_project ON todos (project_id, status);

CREATE TABLE documents (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    markdown   text NOT NULL DEFAULT '',
    sections   jsonb NOT NULL DEFAULT '[]',
    summary    text NOT NULL DEFAULT '',
    version    integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE document_versions (
    document_id       uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    version           integer NOT NULL,
    markdown          text NOT NULL,
    sections          jsonb NOT NULL,
    summary           text NOT NULL,
    source_job_id     uuid,
    source_session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, version)
);

CREATE TABLE operations (
    id          uuid PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    project_id  uuid REFERENCES projects (id) ON DELETE CASCADE,
    batch_id    uuid,
    seq         bigint NOT NULL,
    tool        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    entity      text NOT NULL,
    entity_id   text,
    data        jsonb NOT NULL,
    before      jsonb,
    after       jsonb,
    status      text NOT NULL
                CHECK (status IN ('pending', 'executing', 'completed', 'failed', 'rejected')),
    error       jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    executed_at timestamptz,
    duration_ms bigint,
    UNIQUE (session_id, seq)
);
CREATE INDEX operations_pending_by_project ON operations (project_id, seq)
    WHERE status = 'pending';
