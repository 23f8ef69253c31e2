-- Recovery of failed operations: a corrected operation proposed after an approved one
-- failed names the failed one, and waits for approval like any other.
ALTER TABLE operations ADD COLUMN recovers uuid REFERENCES operations (id) ON DELETE SET NULL;
