-- Both ways: what other programs may write to tasks, the triggers that record their edits in
-- the change log and announce them, and the settling of conflicts.
--
-- The writable surface (documented in docs/database.md):
--   UPDATE tasks SET status = …, text = …                      a task's status or text
--   INSERT INTO tasks (plan_id, text [, status, phase_id, parent_id, position])
--   DELETE FROM tasks WHERE id = …   (or UPDATE tasks SET deleted_at = now())
-- Every such write is recorded in change_log (origin: the session's sync_engine.origin, else
-- 'sql') and announced with NOTIFY sync_engine_changes, payload the plan id. The engine's own
-- writes set sync_engine.origin = 'engine' and are not recorded.

ALTER TABLE tasks
    ALTER COLUMN status SET DEFAULT 'todo',
    ALTER COLUMN char SET DEFAULT '',
    ALTER COLUMN title SET DEFAULT '',
    ALTER COLUMN line SET DEFAULT 0,
    ALTER COLUMN end_line SET DEFAULT 0;
COMMENT ON COLUMN tasks.position IS
    'Document order within the plan. To insert a task after another, give it that task''s '
    'position + 1 (a new task goes before an existing one at the same position); NULL puts it '
    'at the end of its phase, or of the plan. The engine renumbers on its next sync.';
COMMENT ON COLUMN tasks.char IS
    'The checkbox character as written in the file; the engine derives it from status when '
    'another program changes status.';

CREATE FUNCTION sync_engine_origin() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('sync_engine.origin', true), ''), 'sql')
$$;

-- Fills what another program may leave out of an INSERT: the title, the place, the status.
CREATE FUNCTION tasks_before_external_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF sync_engine_origin() = 'engine' THEN
        RETURN NEW;
    END IF;
    IF NEW.status IS NULL OR NEW.status = '' THEN
        NEW.status := 'todo';
    END IF;
    IF NEW.title = '' THEN
        NEW.title := NEW.text;
    END IF;
    IF NEW.phase_id IS NULL AND NEW.parent_id IS NOT NULL THEN
        SELECT phase_id INTO NEW.phase_id FROM tasks WHERE id = NEW.parent_id;
    END IF;
    IF NEW.position IS NULL THEN
        SELECT coalesce(max(position) + 1, 0) INTO NEW.position
        FROM tasks
        WHERE plan_id = NEW.plan_id AND deleted_at IS NULL
          AND (NEW.phase_id IS NULL OR phase_id = NEW.phase_id);
        IF NEW.position = 0 AND NEW.phase_id IS NOT NULL THEN
            -- The phase has no task yet: after the tasks of the phases before it.
            SELECT coalesce(max(t.position) + 1, 0) INTO NEW.position
            FROM tasks t JOIN phases p ON p.id = t.phase_id
            WHERE t.plan_id = NEW.plan_id AND t.deleted_at IS NULL
              AND p.position < (SELECT position FROM phases WHERE id = NEW.phase_id);
        END IF;
    END IF;
    RETURN NEW;
END
$$;

-- The WHEN clauses keep the engine's own bulk writes free of trigger calls.
CREATE TRIGGER tasks_before_external_insert
    BEFORE INSERT ON tasks
    FOR EACH ROW
    WHEN (current_setting('sync_engine.origin', true) IS DISTINCT FROM 'engine')
    EXECUTE FUNCTION tasks_before_external_insert();

-- Records every write that is not the engine's, and announces it.
CREATE FUNCTION tasks_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    origin text := sync_engine_origin();
    row_plan uuid;
BEGIN
    IF origin = 'engine' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) - 'updated_at' - 'revision')
                           = (to_jsonb(NEW) - 'updated_at' - 'revision') THEN
        RETURN NULL;
    END IF;
    row_plan := CASE WHEN TG_OP = 'DELETE' THEN OLD.plan_id ELSE NEW.plan_id END;
    INSERT INTO change_log (table_name, row_id, plan_id, op, old, new, origin)
    VALUES (
        TG_TABLE_NAME,
        CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        row_plan,
        TG_OP,
        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END,
        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END,
        origin
    );
    PERFORM pg_notify('sync_engine_changes', row_plan::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_record_change
    AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW
    WHEN (current_setting('sync_engine.origin', true) IS DISTINCT FROM 'engine')
    EXECUTE FUNCTION tasks_record_change();

-- A settled conflict is applied to both sides by the next sync of its plan.
ALTER TABLE conflicts ADD COLUMN applied_at timestamptz;
COMMENT ON COLUMN conflicts.applied_at IS
    'When a sync wrote the resolution to the file and the database (NULL: not yet).';
CREATE INDEX conflicts_unapplied ON conflicts (plan_id)
    WHERE status = 'resolved' AND applied_at IS NULL;
