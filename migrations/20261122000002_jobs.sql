-- Durable jobs (DESIGN.md, Jobs): Postgres holds the truth, Redis only dispatches.

CREATE TABLE jobs (
    id                uuid PRIMARY KEY,
    kind              text NOT NULL,
    queue             text NOT NULL DEFAULT 'default',
    project_id        uuid REFERENCES projects (id) ON DELETE CASCADE,
    session_id        uuid REFERENCES sessions (id) ON DELETE SET NULL,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    priority          integer NOT NULL DEFAULT 0,
    payload           jsonb NOT NULL DEFAULT '{}',
    idempotency_key   text,
    dedup_hash        text,
    attempts          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    run_after         timestamptz NOT NULL DEFAULT now(),
    -- When the job was last put on its Redis stream; NULL means it must be (again).
    dispatched_at     timestamptz,
    lease_token       uuid,
    lease_owner       text,
    lease_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    completed_at      timestamptz,
    duration_ms       bigint,
    usage             jsonb,
    result            jsonb,
    generated_summary text,
    error             text
);

-- Enqueueing with the same key again answers the same job (per project; NULL project
-- counts as one project for maintenance jobs).
CREATE UNIQUE INDEX jobs_idempotency ON jobs (project_id, idempotency_key) NULLS NOT DISTINCT
    WHERE idempotency_key IS NOT NULL;
-- Due work, in the order workers should take it.
CREATE INDEX jobs_queued ON jobs (queue, priority DESC, run_after, id) WHERE status = 'queued';
-- Leases to reclaim.
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE status = 'running';
-- A project's jobs of a kind, newest first (draft status, dedup). Maintenance jobs have
-- no project and stay out of it.
CREATE INDEX jobs_by_project ON jobs (project_id, kind, created_at DESC)
    WHERE project_id IS NOT NULL;
-- Pruning finished jobs.
CREATE INDEX jobs_finished ON jobs (completed_at) WHERE status IN ('completed', 'failed', 'cancelled');

-- A job's log. Written with every status change, so it is kept lean: one index, and no
-- foreign key (its check would run for every row of every batch); pruning deletes the
-- events of the jobs it deletes.
CREATE TABLE job_events (
    id      bigserial NOT NULL,
    job_id  uuid NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('status', 'log', 'usage', 'artifact')),
    message text NOT NULL,
    data    jsonb,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_by_job ON job_events (job_id, id);
