-- The order of a member's removal (or role change) and their changes (docs/protocol.md,
-- "Losing access"). A change takes the membership's lock shared and then reads the role;
-- a removal or a role change takes it exclusively. Both hold it to the end of their
-- transaction, so a removal commits only after every change already past its check, and
-- a change that comes while a removal is under way waits for it, then reads the row as
-- the removal left it. The read is inside a volatile PL/pgSQL function because each of
-- its statements takes a snapshot of its own: a statement that waited for the lock and
-- read the row in one go would read it as it was before the wait. An advisory lock
-- writes nothing to the row (a row lock would dirty the member's page and log it for
-- every change).
CREATE FUNCTION draftline_membership_key(project UUID, member TEXT) RETURNS INTEGER
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtext(project::text || '/' || member) $$;

-- "drmb" in ASCII: the lock class, beside the outbox's "drob" and "drop".
CREATE FUNCTION draftline_role_for_change(project UUID, member TEXT) RETURNS TEXT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    member_role TEXT;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1685220706, draftline_membership_key(project, member));
    SELECT role INTO member_role FROM project_members
    WHERE project_id = project AND user_id = member;
    RETURN member_role;
END
$$;

CREATE FUNCTION draftline_lock_membership(project UUID, member TEXT) RETURNS VOID
LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(1685220706, draftline_membership_key(project, member))
$$;
