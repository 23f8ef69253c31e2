-- Who decided an operation: the user who approved or rejected it (docs/protocol.md section 8.8).
-- Empty for operations applied at once (auto_accept) and for those decided before this.
ALTER TABLE operations ADD COLUMN decided_by text;
