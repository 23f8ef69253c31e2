-- Rollback of completed operations: an undone operation becomes 'rolled_back' and
-- names the user whose rollback undid it; the rollback (an operation of its own) names
-- the operation it undoes.
ALTER TABLE operations DROP CONSTRAINT operations_status_check;
ALTER TABLE operations ADD CONSTRAINT operations_status_check
    CHECK (status IN ('pending', 'executing', 'completed', 'failed', 'rejected', 'rolled_back'));
ALTER TABLE operations ADD COLUMN rolled_back_by text;
ALTER TABLE operations ADD COLUMN rollback_of uuid REFERENCES operations (id) ON DELETE SET NULL;
