-- The store's queries, by name (see queries.py). Parameters are psycopg's %(name)s.
-- Rows to write in bulk travel as one JSON array of objects (%(rows)s, read with
-- jsonb_to_recordset): cheaper to build than one array parameter per column.

-- ---------------------------------------------------------------------------------------------
-- Migrations

-- name: lock_migrations
-- Serialises migrations of one database; released when the transaction ends.
SELECT pg_advisory_xact_lock(hashtextextended('sync_engine.migrations', 0));

-- name: lock_migration_run
-- Serialises whole migration runs of one database (a session lock, held across the run's
-- transactions): a run that returns has seen every migration applied, by itself or another.
SELECT pg_advisory_lock(hashtextextended('sync_engine.migrations', 0));

-- name: unlock_migration_run
SELECT pg_advisory_unlock(hashtextextended('sync_engine.migrations', 0));

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: applied_migrations
SELECT version FROM schema_migrations ORDER BY version;

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES (%(version)s, %(name)s);

-- ---------------------------------------------------------------------------------------------
-- Roots

-- name: set_engine_origin
-- Every write transaction of the engine starts with this; the change-log triggers read it.
SET LOCAL sync_engine.origin = 'engine';

-- name: triggers_skippable
-- Whether brand-new plans may be loaded with triggers off (their rows reference only rows
-- made in the same transaction, so the foreign-key checks cannot fail): as a superuser, when
-- no one else's trigger is on these tables (the engine's own let its writes through anyway).
SELECT current_setting('is_superuser') = 'on' AND NOT EXISTS (
    SELECT 1
    FROM pg_trigger
    WHERE tgrelid = ANY (ARRAY['plans', 'phases', 'sections', 'tasks', 'plan_base']::regclass[])
      AND NOT tgisinternal
      AND pg_get_triggerdef(oid) NOT LIKE '%sync_engine.origin%'
);

-- name: skip_triggers
SET LOCAL session_replication_role = replica;

-- name: fire_triggers
SET LOCAL session_replication_role = DEFAULT;

-- name: begin
-- Explicit transaction control, for transactions sent in one round trip (pipelined).
BEGIN;

-- name: begin_snapshot
-- Reads that must see one moment (a plan's tasks, base and change log).
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;

-- name: commit
COMMIT;

-- name: rollback
ROLLBACK;

-- name: set_asynchronous_commit
-- For writes derived from the plan files, and the sync's bookkeeping: the commit does not wait
-- for the WAL flush. A crash may lose the last fraction of a second of them, never half of
-- one; the next sync redoes it.
SET LOCAL synchronous_commit = off;

-- name: insert_root
INSERT INTO roots (path) VALUES (%(path)s) ON CONFLICT (path) DO NOTHING;

-- name: root_by_path
SELECT id, path, replica_id, git_head, last_sync_at FROM roots WHERE path = %(path)s;

-- name: root_by_id
SELECT id, path, replica_id, git_head, last_sync_at FROM roots WHERE id = %(root_id)s::uuid;

-- name: set_root_synced
UPDATE roots SET last_sync_at = now(), git_head = %(git_head)s WHERE id = %(root_id)s::uuid;

-- name: lock_root
-- A session-level lock: held across transactions until unlock_root or disconnection.
SELECT pg_advisory_lock(hashtextextended('sync_engine.root:' || %(root_id)s::text, 0));

-- name: unlock_root
SELECT pg_advisory_unlock(hashtextextended('sync_engine.root:' || %(root_id)s::text, 0));

-- ---------------------------------------------------------------------------------------------
-- Reading plans and tasks

-- name: plan_index
-- The columns in the order of the fields of StoredPlanInfo (built from the tuples).
SELECT id, path, content_hash, size, mtime_ns, inode, git_blob, skipped_reason, task_count
FROM plans
WHERE root_id = %(root_id)s::uuid AND deleted_at IS NULL;

-- name: plan_index_of
-- The plan_index rows of the plans at these paths or with these ids (a sync told which
-- plans changed).
SELECT id, path, content_hash, size, mtime_ns, inode, git_blob, skipped_reason, task_count
FROM plans
WHERE root_id = %(root_id)s::uuid AND deleted_at IS NULL
  AND (path = ANY(%(paths)s::text[]) OR id = ANY(%(plan_ids)s::uuid[]));

-- name: plans_needing_merge_of
-- plans_needing_merge, of the plans at these paths or with these ids alone.
WITH named AS (
    SELECT id FROM plans
    WHERE root_id = %(root_id)s::uuid AND deleted_at IS NULL
      AND (path = ANY(%(paths)s::text[]) OR id = ANY(%(plan_ids)s::uuid[]))
)
SELECT n.id FROM named AS n
WHERE EXISTS (SELECT FROM change_log AS c WHERE c.plan_id = n.id AND c.consumed_at IS NULL)
   OR EXISTS (
       SELECT FROM conflicts AS k
       WHERE k.plan_id = n.id
         AND (k.status = 'open' OR (k.status = 'resolved' AND k.applied_at IS NULL)));

-- name: plan_tasks
SELECT t.id, t.position, t.parent_id, t.phase_id IS NOT NULL AS has_phase,
       ph.number AS phase_number, ph.title AS phase_title,
       t.text, t.title, t.status, t.char, t.line, t.explicit_id, t.label
FROM tasks AS t
-- On the plan too: the plan's few phases by index, not a hash of every phase of every plan
-- (a phase of another plan is no phase of this task).
LEFT JOIN phases AS ph ON ph.id = t.phase_id AND ph.plan_id = t.plan_id
WHERE t.plan_id = %(plan_id)s::uuid AND t.deleted_at IS NULL
-- A task another program inserted (line 0) goes before the task at the same position.
ORDER BY t.position, t.line > 0, t.created_at;

-- name: list_tasks
SELECT t.id, p.path AS plan, ph.number AS phase, ph.title AS phase_title,
       t.text, t.status, t.line
FROM tasks AS t
JOIN plans AS p ON p.id = t.plan_id
LEFT JOIN phases AS ph ON ph.id = t.phase_id
WHERE p.root_id = %(root_id)s::uuid AND p.deleted_at IS NULL AND t.deleted_at IS NULL
  AND (%(plan_path)s::text IS NULL OR p.path = %(plan_path)s::text)
  AND (%(status)s::text IS NULL OR t.status = %(status)s::text)
ORDER BY p.path, t.position;

-- name: find_tasks
-- Candidates for a task reference: an explicit id, or ids in [low, high] (an id prefix
-- padded with 0s and fs: a range scan of the primary key).
SELECT t.id, p.path AS plan, ph.number AS phase, ph.title AS phase_title,
       t.text, t.status, t.line, t.explicit_id
FROM tasks AS t
JOIN plans AS p ON p.id = t.plan_id
LEFT JOIN phases AS ph ON ph.id = t.phase_id
WHERE p.root_id = %(root_id)s::uuid AND p.deleted_at IS NULL AND t.deleted_at IS NULL
  AND (t.id BETWEEN %(low)s::uuid AND %(high)s::uuid OR t.explicit_id = %(value)s::text)
ORDER BY t.explicit_id = %(value)s::text DESC NULLS LAST, p.path, t.position
LIMIT %(limit)s;

-- name: summary_counts
SELECT
    (SELECT count(*) FROM plans
     WHERE root_id = %(root_id)s::uuid AND deleted_at IS NULL) AS plans,
    (SELECT last_sync_at FROM roots WHERE id = %(root_id)s::uuid) AS last_sync_at;

-- name: tasks_by_status
SELECT t.status, count(*) AS tasks
FROM tasks AS t
JOIN plans AS p ON p.id = t.plan_id
WHERE p.root_id = %(root_id)s::uuid AND p.deleted_at IS NULL AND t.deleted_at IS NULL
GROUP BY t.status
ORDER BY t.status;

-- name: skipped_plans
SELECT path, skipped_reason AS reason
FROM plans
WHERE root_id = %(root_id)s::uuid AND deleted_at IS NULL AND skipped_reason IS NOT NULL
ORDER BY path;

-- ---------------------------------------------------------------------------------------------
-- Writing plans

-- name: write_plan
-- Updates the plan named by plan_id or, without one, the live plan at the path, else the
-- latest tombstone there (reviving it), else inserts a new plan. Clears a skip: the plan was
-- synced. No row back: plan_id names no plan of the root. A title, version or date that the
-- file does not hold (NULL) while the database holds one of its own (not the base's: another
-- program wrote it) is kept.
WITH target AS (
    SELECT id FROM plans
    WHERE root_id = %(root_id)s::uuid
      AND CASE WHEN %(plan_id)s::uuid IS NULL THEN path = %(path)s
               ELSE id = %(plan_id)s::uuid END
    ORDER BY deleted_at IS NOT NULL, deleted_at DESC
    LIMIT 1
    FOR UPDATE
), updated AS (
    UPDATE plans SET
        path = %(path)s,
        title = CASE WHEN %(title)s::text IS NULL AND plans.title IS DISTINCT FROM base.title
                     THEN plans.title ELSE %(title)s END,
        version = CASE
            WHEN %(version)s::text IS NULL AND plans.version IS DISTINCT FROM base.version
            THEN plans.version ELSE %(version)s END,
        date = CASE WHEN %(date)s::text IS NULL AND plans.date IS DISTINCT FROM base.date
                    THEN plans.date ELSE %(date)s END,
        declared_progress = %(declared_progress)s, computed_progress = %(computed_progress)s,
        front_matter = %(front_matter)s, metadata = %(metadata)s,
        content_hash = %(content_hash)s, git_blob = %(git_blob)s, size = %(size)s,
        mtime_ns = %(mtime_ns)s, inode = %(inode)s, task_count = %(task_count)s,
        score = %(score)s, findings = %(findings)s, skipped_reason = NULL, deleted_at = NULL,
        updated_at = now()
    FROM (
        SELECT model ->> 'title' AS title, model ->> 'version' AS version,
               model ->> 'date' AS date
        FROM (SELECT id FROM target) AS t LEFT JOIN plan_base AS b ON b.plan_id = t.id
    ) AS base
    WHERE plans.id = (SELECT id FROM target)
    RETURNING plans.id
), inserted AS (
    INSERT INTO plans (
        root_id, path, title, version, date, declared_progress, computed_progress,
        front_matter, metadata, content_hash, git_blob, size, mtime_ns, inode, task_count,
        score, findings)
    SELECT
        %(root_id)s::uuid, %(path)s, %(title)s, %(version)s, %(date)s, %(declared_progress)s,
        %(computed_progress)s, %(front_matter)s, %(metadata)s, %(content_hash)s,
        %(git_blob)s, %(size)s, %(mtime_ns)s, %(inode)s, %(task_count)s, %(score)s,
        %(findings)s
    WHERE %(plan_id)s::uuid IS NULL AND NOT EXISTS (SELECT FROM target)
    RETURNING id
)
SELECT id FROM updated
UNION ALL
SELECT id FROM inserted;

-- name: replace_phases
-- Keeps the ids of phases by position (so tasks keep their phase_id), rewrites only what
-- changed, drops positions gone; returns the id of every position now present.
WITH incoming AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS u (
        position integer, number integer, title text, heading text, level integer,
        line integer, end_line integer, declared_progress double precision,
        computed_progress double precision)
), removed AS (
    DELETE FROM phases
    WHERE plan_id = %(plan_id)s::uuid AND position NOT IN (SELECT position FROM incoming)
), written AS (
    INSERT INTO phases (plan_id, position, number, title, heading, level, line, end_line,
                        declared_progress, computed_progress)
    SELECT %(plan_id)s::uuid, * FROM incoming
    ON CONFLICT (plan_id, position) DO UPDATE SET
        number = EXCLUDED.number, title = EXCLUDED.title, heading = EXCLUDED.heading,
        level = EXCLUDED.level, line = EXCLUDED.line, end_line = EXCLUDED.end_line,
        declared_progress = EXCLUDED.declared_progress,
        computed_progress = EXCLUDED.computed_progress
    WHERE (phases.number, phases.title, phases.heading, phases.level, phases.line,
           phases.end_line, phases.declared_progress, phases.computed_progress)
        IS DISTINCT FROM
          (EXCLUDED.number, EXCLUDED.title, EXCLUDED.heading, EXCLUDED.level, EXCLUDED.line,
           EXCLUDED.end_line, EXCLUDED.declared_progress, EXCLUDED.computed_progress)
    RETURNING id, position
)
SELECT id, position FROM written
UNION
SELECT id, position FROM phases
WHERE plan_id = %(plan_id)s::uuid AND position IN (SELECT position FROM incoming);

-- name: replace_sections
-- As replace_phases, for sections.
WITH incoming AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS u (
        position integer, level integer, title text, line integer, end_line integer,
        parent_position integer, phase_position integer)
), removed AS (
    DELETE FROM sections
    WHERE plan_id = %(plan_id)s::uuid AND position NOT IN (SELECT position FROM incoming)
), written AS (
    INSERT INTO sections (plan_id, position, level, title, line, end_line, parent_position,
                          phase_position)
    SELECT %(plan_id)s::uuid, * FROM incoming
    ON CONFLICT (plan_id, position) DO UPDATE SET
        level = EXCLUDED.level, title = EXCLUDED.title, line = EXCLUDED.line,
        end_line = EXCLUDED.end_line, parent_position = EXCLUDED.parent_position,
        phase_position = EXCLUDED.phase_position
    WHERE (sections.level, sections.title, sections.line, sections.end_line,
           sections.parent_position, sections.phase_position)
        IS DISTINCT FROM
          (EXCLUDED.level, EXCLUDED.title, EXCLUDED.line, EXCLUDED.end_line,
           EXCLUDED.parent_position, EXCLUDED.phase_position)
    RETURNING id, position
)
SELECT id, position FROM written
UNION
SELECT id, position FROM sections
WHERE plan_id = %(plan_id)s::uuid AND position IN (SELECT position FROM incoming);

-- name: existing_task_ids
SELECT id FROM tasks WHERE id = ANY(%(ids)s::uuid[]);

-- name: paths_with_plans
-- Which of these paths have a plan row of the root, live, skipped or tombstoned.
SELECT DISTINCT path FROM plans WHERE root_id = %(root_id)s::uuid AND path = ANY(%(paths)s);

-- name: copy_plans
COPY plans (id, root_id, path, title, version, date, declared_progress, computed_progress,
            front_matter, metadata, content_hash, git_blob, size, mtime_ns, inode, task_count,
            score, findings)
FROM STDIN;

-- name: copy_phases
COPY phases (id, plan_id, position, number, title, heading, level, line, end_line,
             declared_progress, computed_progress)
FROM STDIN;

-- name: copy_sections
COPY sections (id, plan_id, position, level, title, line, end_line, parent_position,
               phase_position)
FROM STDIN;

-- name: copy_plan_base
COPY plan_base (plan_id, content, model, content_hash) FROM STDIN;

-- name: copy_tasks
COPY tasks (id, plan_id, phase_id, section_id, parent_id, position, line, end_line, status,
            char, text, title, label, explicit_id, depth, fields)
FROM STDIN;

-- name: update_tasks
-- Rewrites every column of changed tasks (reviving tombstones, adopting moved tasks).
UPDATE tasks AS t SET
    plan_id = %(plan_id)s::uuid, phase_id = u.phase_id, section_id = u.section_id,
    parent_id = u.parent_id, position = u.position, line = u.line, end_line = u.end_line,
    status = u.status, char = u.char, text = u.text, title = u.title, label = u.label,
    explicit_id = u.explicit_id, depth = u.depth, fields = u.fields, deleted_at = NULL,
    revision = t.revision + 1, updated_at = now()
FROM jsonb_to_recordset(%(rows)s::jsonb) AS u (
    id uuid, phase_id uuid, section_id uuid, parent_id uuid, position integer, line integer,
    end_line integer, status text, char text, text text, title text, label text,
    explicit_id text, depth integer, fields jsonb)
WHERE t.id = u.id
  AND (t.plan_id, t.phase_id, t.section_id, t.parent_id, t.position, t.line, t.end_line,
       t.status, t.char, t.text, t.title, t.label, t.explicit_id, t.depth, t.fields,
       t.deleted_at IS NULL)
    IS DISTINCT FROM
      (%(plan_id)s::uuid, u.phase_id, u.section_id, u.parent_id, u.position, u.line,
       u.end_line, u.status, u.char, u.text, u.title, u.label, u.explicit_id, u.depth,
       u.fields, true);

-- name: live_ancestor
-- The task itself when live, else its nearest live ancestor (none: no row back).
WITH RECURSIVE up AS (
    SELECT id, parent_id, deleted_at, 0 AS depth FROM tasks WHERE id = %(id)s::uuid
    UNION ALL
    SELECT t.id, t.parent_id, t.deleted_at, up.depth + 1
    FROM tasks AS t JOIN up ON t.id = up.parent_id
    WHERE up.deleted_at IS NOT NULL AND up.depth < 1000
)
SELECT id FROM up WHERE deleted_at IS NULL ORDER BY depth LIMIT 1;

-- name: move_tasks
-- Unchanged tasks: only where they sit (a line inserted above shifts them all).
UPDATE tasks AS t SET
    plan_id = %(plan_id)s::uuid, phase_id = u.phase_id, section_id = u.section_id,
    parent_id = u.parent_id, position = u.position, line = u.line, end_line = u.end_line,
    label = u.label, depth = u.depth, revision = t.revision + 1, updated_at = now()
FROM jsonb_to_recordset(%(rows)s::jsonb) AS u (
    id uuid, phase_id uuid, section_id uuid, parent_id uuid, position integer, line integer,
    end_line integer, label text, depth integer)
WHERE t.id = u.id
  AND (t.plan_id, t.phase_id, t.section_id, t.parent_id, t.position, t.line, t.end_line,
       t.label, t.depth)
    IS DISTINCT FROM
      (%(plan_id)s::uuid, u.phase_id, u.section_id, u.parent_id, u.position, u.line,
       u.end_line, u.label, u.depth);

-- name: tombstone_tasks
UPDATE tasks SET deleted_at = now(), updated_at = now(), revision = revision + 1
WHERE plan_id = %(plan_id)s::uuid AND id = ANY(%(ids)s::uuid[]) AND deleted_at IS NULL;

-- name: upsert_plan_base
INSERT INTO plan_base (plan_id, content, model, content_hash)
VALUES (%(plan_id)s::uuid, %(content)s, %(model)s, %(content_hash)s)
ON CONFLICT (plan_id) DO UPDATE SET
    content = EXCLUDED.content, model = EXCLUDED.model, content_hash = EXCLUDED.content_hash,
    synced_at = now();

-- name: set_skipped
-- A plan never synced gets a stub row (empty hash) that carries the reason.
INSERT INTO plans (root_id, path, skipped_reason)
VALUES (%(root_id)s::uuid, %(path)s, %(reason)s)
ON CONFLICT (root_id, path) WHERE deleted_at IS NULL DO UPDATE
    SET skipped_reason = EXCLUDED.skipped_reason, updated_at = now()
    WHERE plans.skipped_reason IS DISTINCT FROM EXCLUDED.skipped_reason;

-- name: clear_skipped
UPDATE plans SET skipped_reason = NULL, updated_at = now()
WHERE root_id = %(root_id)s::uuid AND path = %(path)s AND deleted_at IS NULL
  AND skipped_reason IS NOT NULL;

-- name: tombstone_plans
-- Tombstones the plans and their live tasks; the row count is the tasks'.
WITH gone AS (
    UPDATE plans SET deleted_at = now(), updated_at = now()
    WHERE root_id = %(root_id)s::uuid AND id = ANY(%(plan_ids)s::uuid[]) AND deleted_at IS NULL
    RETURNING id
)
UPDATE tasks SET deleted_at = now(), updated_at = now(), revision = revision + 1
WHERE plan_id IN (SELECT id FROM gone) AND deleted_at IS NULL;

-- name: refresh_stats
UPDATE plans AS p SET size = u.size, mtime_ns = u.mtime_ns, inode = u.inode
FROM unnest(%(id)s::uuid[], %(size)s::bigint[], %(mtime_ns)s::bigint[], %(inode)s::bigint[])
    AS u (id, size, mtime_ns, inode)
WHERE p.id = u.id AND (p.size, p.mtime_ns, p.inode) IS DISTINCT FROM (u.size, u.mtime_ns, u.inode);

-- name: record_operation
INSERT INTO sync_operations (root_id, kind, status, counts, duration_s, started_at, finished_at)
VALUES (%(root_id)s::uuid, %(kind)s, %(status)s, %(counts)s, %(duration_s)s,
        clock_timestamp() - make_interval(secs => %(duration_s)s), clock_timestamp());

-- name: set_origin
-- Marks the transaction's writes with who made them (the change-log triggers read it).
SELECT set_config('sync_engine.origin', %(origin)s, true);

-- name: plans_needing_merge
-- Plans of the root with database-side edits not yet synced, or conflicts to settle or apply.
SELECT DISTINCT c.plan_id
FROM change_log AS c JOIN plans AS p ON p.id = c.plan_id
WHERE p.root_id = %(root_id)s::uuid AND c.consumed_at IS NULL
UNION
SELECT DISTINCT k.plan_id
FROM conflicts AS k JOIN plans AS p ON p.id = k.plan_id
WHERE p.root_id = %(root_id)s::uuid
  AND (k.status = 'open' OR (k.status = 'resolved' AND k.applied_at IS NULL));

-- name: record_pending_write
-- The intent of a plan's sync, before its file is renamed into place (replaces an older one).
INSERT INTO pending_writes (plan_id, content_hash, change)
VALUES (%(plan_id)s::uuid, %(content_hash)s, %(change)s)
ON CONFLICT (plan_id) DO UPDATE
SET content_hash = EXCLUDED.content_hash, change = EXCLUDED.change, recorded_at = now();

-- name: pending_writes
-- The intents of the root's live plans (paths NULL), or of those at these paths or with these
-- ids; edited_since: the change log holds unconsumed entries of the plan after those the
-- change consumes (database-side edits made after it was made).
SELECT w.plan_id, w.content_hash, w.change,
       EXISTS (
           SELECT 1 FROM change_log AS c
           WHERE c.plan_id = w.plan_id AND c.consumed_at IS NULL
             AND c.id > coalesce((w.change ->> 'consumed_up_to')::bigint, 0)
       ) AS edited_since
FROM pending_writes AS w JOIN plans AS p ON p.id = w.plan_id
WHERE p.root_id = %(root_id)s::uuid AND p.deleted_at IS NULL
  AND (%(paths)s::text[] IS NULL OR p.path = ANY(%(paths)s::text[])
       OR p.id = ANY(%(plan_ids)s::uuid[]));

-- name: drop_pending_write
DELETE FROM pending_writes WHERE plan_id = %(plan_id)s::uuid;

-- name: plan_base
SELECT content, model FROM plan_base WHERE plan_id = %(plan_id)s::uuid;

-- name: plan_metadata
SELECT title, version, date FROM plans WHERE id = %(plan_id)s::uuid;

-- name: phase_titles
SELECT title FROM phases WHERE plan_id = %(plan_id)s::uuid ORDER BY position;

-- name: pending_up_to
SELECT max(id) FROM change_log WHERE plan_id = %(plan_id)s::uuid AND consumed_at IS NULL;

-- name: plan_conflicts
-- Open conflicts of a plan, and resolved ones not applied yet.
SELECT k.id, k.plan_id, p.path AS plan, k.task_id, k.type, k.severity, k.status, k.field,
       k.base, k.markdown, k.database, k.created_at, k.resolved_at, k.resolved_by,
       k.resolution, k.applied_at
FROM conflicts AS k JOIN plans AS p ON p.id = k.plan_id
WHERE k.plan_id = %(plan_id)s::uuid
  AND (k.status = 'open' OR (k.status = 'resolved' AND k.applied_at IS NULL))
ORDER BY k.created_at, k.id;

-- name: newer_changes
-- Database-side edits of the plan recorded after those its sync merged (a race: they
-- landed while the plan was being synced).
SELECT EXISTS (
    SELECT 1 FROM change_log
    WHERE plan_id = %(plan_id)s::uuid AND consumed_at IS NULL AND id > %(up_to)s
);

-- name: consume_change_log
UPDATE change_log SET consumed_at = now()
WHERE plan_id = %(plan_id)s::uuid AND consumed_at IS NULL AND id <= %(up_to)s;

-- name: insert_conflict
INSERT INTO conflicts (plan_id, task_id, type, severity, status, field, base, markdown,
                       database, resolved_at, resolved_by, resolution, applied_at)
VALUES (%(plan_id)s::uuid, %(task_id)s::uuid, %(type)s, %(severity)s, %(status)s, %(field)s,
        %(base)s, %(markdown)s, %(database)s,
        CASE WHEN %(status)s = 'resolved' THEN now() END, %(resolved_by)s, %(resolution)s,
        CASE WHEN %(status)s = 'resolved' THEN now() END)
RETURNING id;

-- name: refresh_conflict
UPDATE conflicts SET base = %(base)s, markdown = %(markdown)s, database = %(database)s
WHERE id = %(id)s::uuid AND status = 'open';

-- name: apply_conflicts
UPDATE conflicts SET applied_at = now()
WHERE id = ANY(%(ids)s::uuid[]) AND status = 'resolved' AND applied_at IS NULL;

-- name: list_conflicts
SELECT k.id, k.plan_id, p.path AS plan, k.task_id, k.type, k.severity, k.status, k.field,
       k.base, k.markdown, k.database, k.created_at, k.resolved_at, k.resolved_by,
       k.resolution, k.applied_at
FROM conflicts AS k JOIN plans AS p ON p.id = k.plan_id
WHERE p.root_id = %(root_id)s::uuid
  AND (%(status)s::text IS NULL OR k.status = %(status)s::text)
ORDER BY k.created_at, k.id;

-- name: find_conflicts
SELECT k.id, k.plan_id, p.path AS plan, k.task_id, k.type, k.severity, k.status, k.field,
       k.base, k.markdown, k.database, k.created_at, k.resolved_at, k.resolved_by,
       k.resolution, k.applied_at
FROM conflicts AS k JOIN plans AS p ON p.id = k.plan_id
WHERE p.root_id = %(root_id)s::uuid AND k.id BETWEEN %(low)s::uuid AND %(high)s::uuid
ORDER BY k.id
LIMIT %(limit)s;

-- name: resolve_conflict
UPDATE conflicts SET status = 'resolved', resolved_at = now(), resolved_by = %(actor)s,
                     resolution = %(resolution)s
WHERE id = %(id)s::uuid AND status = 'open'
RETURNING id;

-- name: open_conflict_fields
SELECT field FROM conflicts
WHERE task_id = %(task_id)s::uuid AND status = 'open';

-- name: update_task
UPDATE tasks SET status = coalesce(%(status)s, status), text = coalesce(%(text)s, text),
                 title = CASE WHEN %(text)s IS NULL THEN title ELSE %(text)s END,
                 updated_at = now(), revision = revision + 1
WHERE id = %(id)s::uuid AND deleted_at IS NULL;

-- name: add_task
INSERT INTO tasks (plan_id, phase_id, parent_id, position, status, text)
VALUES (%(plan_id)s::uuid, %(phase_id)s::uuid, %(parent_id)s::uuid, %(position)s, %(status)s,
        %(text)s)
RETURNING id;

-- name: delete_task
UPDATE tasks SET deleted_at = now(), updated_at = now(), revision = revision + 1
WHERE id = %(id)s::uuid AND deleted_at IS NULL;

-- name: task_place
SELECT plan_id, phase_id, position, parent_id FROM tasks WHERE id = %(id)s::uuid;

-- name: live_task_place
SELECT plan_id, phase_id, position FROM tasks WHERE id = %(id)s::uuid AND deleted_at IS NULL;

-- name: move_anchor
-- Where a task moved right after this one goes: the plan, phase and parent of this one, and
-- the position after its sub-tasks (those of the moved task left out).
SELECT plan_id, phase_id, parent_id,
       sync_engine_end_position(plan_id, %(task_id)s::uuid, id, phase_id) AS end_position
FROM tasks WHERE id = %(id)s::uuid AND deleted_at IS NULL;

-- name: move_task
-- A NULL position puts the task at the end of its new place (see 0004_task_moves.sql).
UPDATE tasks SET phase_id = %(phase_id)s::uuid, parent_id = %(parent_id)s::uuid,
                 position = %(position)s, updated_at = now(), revision = revision + 1
WHERE id = %(id)s::uuid AND deleted_at IS NULL;

-- name: set_task_position
UPDATE tasks SET position = %(position)s, updated_at = now(), revision = revision + 1
WHERE id = %(id)s::uuid AND position IS DISTINCT FROM %(position)s;

-- name: live_plan_by_path
SELECT id FROM plans
WHERE root_id = %(root_id)s::uuid AND path = %(path)s AND deleted_at IS NULL;

-- name: phase_by_number
SELECT id FROM phases WHERE plan_id = %(plan_id)s::uuid AND number = %(number)s
ORDER BY position LIMIT 1;

-- name: record_audit
INSERT INTO audit_log (actor, action, target, details)
VALUES (%(actor)s, %(action)s, %(target)s, %(details)s);
