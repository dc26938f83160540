-- Moves made by other programs (documented in docs/database.md):
--   UPDATE tasks SET phase_id = …, parent_id = …, position = … WHERE id = …
-- The change-log trigger of 0002 records them; the next sync moves the task's lines, with
-- its sub-tasks, in the file. This trigger keeps a move coherent before it is stored:
--   * a new parent brings its phase; a new phase takes the task out from under a parent of
--     another phase;
--   * a task given a new parent or phase with its position left as it was (or any task
--     given position NULL) goes at the end: after the last sub-task of its parent, else
--     after the last task of its phase;
--   * a parent is a live task of the same plan, not the task itself nor one of its
--     sub-tasks; a phase is one of the plan's.
-- A parent's deletion setting its sub-tasks' parent_id to NULL (ON DELETE SET NULL) is no
-- move: it is left as it is.

-- The position right after the tasks of a place: the parent and its sub-tasks (the task
-- being moved, with its own, left out), else the tasks of the phase (NULL: of no phase),
-- else the tasks of the phases before it.
CREATE FUNCTION sync_engine_end_position(
    plan uuid, task uuid, parent uuid, phase uuid
) RETURNS integer
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE under_parent AS (
        SELECT id, position FROM tasks WHERE id = parent AND deleted_at IS NULL
        UNION ALL
        SELECT t.id, t.position
        FROM tasks AS t JOIN under_parent AS u ON t.parent_id = u.id
        WHERE t.deleted_at IS NULL AND t.id <> task
    ), own AS (
        SELECT id FROM tasks WHERE id = task
        UNION ALL
        SELECT t.id FROM tasks AS t JOIN own AS o ON t.parent_id = o.id
        WHERE t.deleted_at IS NULL
    )
    SELECT coalesce(
        (SELECT max(position) + 1 FROM under_parent WHERE parent IS NOT NULL),
        (SELECT max(t.position) + 1 FROM tasks AS t
         WHERE parent IS NULL AND t.plan_id = plan AND t.deleted_at IS NULL
           AND t.phase_id IS NOT DISTINCT FROM phase AND t.id NOT IN (SELECT id FROM own)),
        (SELECT max(t.position) + 1 FROM tasks AS t JOIN phases AS p ON p.id = t.phase_id
         WHERE parent IS NULL AND t.plan_id = plan AND t.deleted_at IS NULL
           AND t.id NOT IN (SELECT id FROM own)
           AND p.position < (SELECT position FROM phases WHERE id = phase)),
        0
    )
$$;

CREATE FUNCTION tasks_before_external_move() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    parent_plan uuid;
    parent_phase uuid;
BEGIN
    IF pg_trigger_depth() > 1 AND NEW.parent_id IS NULL AND OLD.parent_id IS NOT NULL THEN
        RETURN NEW;  -- the parent was deleted (ON DELETE SET NULL)
    END IF;
    IF NEW.parent_id IS NOT DISTINCT FROM OLD.parent_id
       AND NEW.phase_id IS NOT DISTINCT FROM OLD.phase_id
       AND NEW.position IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF NEW.parent_id IS NOT NULL
       AND (NEW.parent_id IS DISTINCT FROM OLD.parent_id
            OR NEW.phase_id IS NOT DISTINCT FROM OLD.phase_id) THEN
        SELECT plan_id, phase_id INTO parent_plan, parent_phase
        FROM tasks WHERE id = NEW.parent_id AND deleted_at IS NULL;
        IF NOT FOUND OR parent_plan <> NEW.plan_id THEN
            RAISE EXCEPTION 'task %: parent % is not a live task of the same plan',
                NEW.id, NEW.parent_id USING ERRCODE = 'check_violation';
        END IF;
        IF EXISTS (
            WITH RECURSIVE own AS (
                SELECT NEW.id AS id
                UNION ALL
                SELECT t.id FROM tasks AS t JOIN own AS o ON t.parent_id = o.id
            )
            SELECT FROM own WHERE id = NEW.parent_id
        ) THEN
            RAISE EXCEPTION 'task %: cannot go under itself or one of its sub-tasks (%)',
                NEW.id, NEW.parent_id USING ERRCODE = 'check_violation';
        END IF;
        NEW.phase_id := parent_phase;
    ELSIF NEW.parent_id IS NOT NULL AND NEW.phase_id IS DISTINCT FROM (
        SELECT phase_id FROM tasks WHERE id = NEW.parent_id
    ) THEN
        NEW.parent_id := NULL;  -- moved to another phase than its parent's
    END IF;
    IF NEW.phase_id IS NOT NULL AND NOT EXISTS (
        SELECT FROM phases WHERE id = NEW.phase_id AND plan_id = NEW.plan_id
    ) THEN
        RAISE EXCEPTION 'task %: phase % is not a phase of its plan', NEW.id, NEW.phase_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.position IS NULL OR NEW.position = OLD.position THEN
        NEW.position := sync_engine_end_position(NEW.plan_id, NEW.id, NEW.parent_id, NEW.phase_id);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER tasks_before_external_move
    BEFORE UPDATE OF phase_id, parent_id, position ON tasks
    FOR EACH ROW
    WHEN (current_setting('sync_engine.origin', true) IS DISTINCT FROM 'engine')
    EXECUTE FUNCTION tasks_before_external_move();

COMMENT ON COLUMN tasks.parent_id IS
    'The task this one is a sub-task of (NULL: top-level in its phase). Another program may '
    'set it: the task and its sub-tasks move there (the last sub-task unless a position is '
    'given), into the parent''s phase.';
COMMENT ON COLUMN tasks.phase_id IS
    'The task''s phase (NULL: before the first phase). Another program may set it: the task '
    'moves there (at the end unless a position is given), top-level unless its parent is '
    'in that phase.';
