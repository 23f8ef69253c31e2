-- The project chat (PROTOCOL.md sections 3 and 7): people's messages and the replies
-- the `chat.reply` job writes.

CREATE TABLE chat_messages (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('user', 'assistant')),
    -- The person who wrote it; NULL for the assistant.
    author_id  text,
    session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
    -- The message a reply answers.
    reply_to   uuid REFERENCES chat_messages (id) ON DELETE SET NULL,
    text       text NOT NULL,
    -- The job that wrote a reply. No foreign key: finished jobs are pruned after the
    -- retention period and the message outlives them (as document_versions.source_job_id).
    job_id     uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- A project's chat in order (listing the newest, and a reply's recent context).
CREATE INDEX chat_messages_by_project ON chat_messages (project_id, created_at, id);
