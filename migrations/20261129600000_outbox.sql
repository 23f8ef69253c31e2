-- The transactional outbox: the events of a change, written in the change's own
-- transaction and published to Redis from here (after commit by the committing process,
-- else by the relay). A row is deleted once Redis holds it. Within a project, rows are
-- inserted under a per-project advisory lock held to commit, so `id` order is commit
-- order; the publisher sends a project's rows in `id` order.
CREATE TABLE event_outbox (
    id          BIGSERIAL PRIMARY KEY,
    project_id  UUID NOT NULL,
    topic       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    -- The `event` frame split around the epoch and offset Redis assigns.
    head        TEXT NOT NULL,
    tail        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX event_outbox_project ON event_outbox (project_id, id);
