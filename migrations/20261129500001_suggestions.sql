-- Suggestions: changes proposed by a read-only session (audit, forecast) for a person
-- to approve. They are ordinary pending operations, marked so that nothing applies
-- them without a decision, with the reason shown to whoever decides.
ALTER TABLE operations ADD COLUMN suggestion boolean NOT NULL DEFAULT false;
ALTER TABLE operations ADD COLUMN reason text;
