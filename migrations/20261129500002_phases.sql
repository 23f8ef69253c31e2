-- Session phases: metadata.phase now says where the conversation stands (gathering,
-- clarifying, finalizing, completed) instead of repeating the mode; sessions that
-- held a mode's name there start over as gathering. metadata.dimensions_open lists
-- the blueprint fields the conversation has to come back to.
UPDATE sessions
SET metadata = jsonb_set(metadata, '{phase}', '"gathering"')
WHERE metadata->>'phase' IS NULL
   OR metadata->>'phase' NOT IN ('gathering', 'clarifying', 'finalizing', 'completed');
