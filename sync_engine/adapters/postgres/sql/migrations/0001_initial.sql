-- The initial schema: roots, plans and their parts, the per-plan base snapshot, the sync
-- operations log, and (used from the next issue on) the change log, conflicts and audit log.
--
-- Other programs may write: tasks.status, tasks.char, tasks.text, tasks.title and
-- tasks.fields (and insert or tombstone tasks). Everything else is the engine's.

CREATE TABLE roots (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    path text NOT NULL UNIQUE,
    replica_id uuid NOT NULL DEFAULT gen_random_uuid(),
    git_head text,
    last_sync_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE roots IS
    'A folder of plan files; replica_id recognises a restored or foreign database.';

CREATE TABLE plans (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    root_id uuid NOT NULL REFERENCES roots (id) ON DELETE CASCADE,
    path text NOT NULL,
    title text,
    version text,
    date text,
    declared_progress double precision,
    computed_progress double precision,
    front_matter jsonb NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}',
    content_hash text NOT NULL DEFAULT '',
    git_blob text,
    size bigint NOT NULL DEFAULT 0,
    mtime_ns bigint NOT NULL DEFAULT 0,
    inode bigint NOT NULL DEFAULT 0,
    task_count integer NOT NULL DEFAULT 0,
    score integer NOT NULL DEFAULT 0,
    findings jsonb NOT NULL DEFAULT '[]',
    skipped_reason text,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE plans IS 'One Markdown plan file, by path relative to its root (''/''-separated).';
COMMENT ON COLUMN plans.deleted_at IS 'Tombstone: set when the file disappeared; the row is kept.';
COMMENT ON COLUMN plans.skipped_reason IS
    'Why the engine leaves this plan alone (NULL: it does not).';
-- One live plan per path; tombstoned rows of the same path may pile up beside it.
CREATE UNIQUE INDEX plans_live_path ON plans (root_id, path) WHERE deleted_at IS NULL;
CREATE INDEX plans_path ON plans (root_id, path);

CREATE TABLE phases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    position integer NOT NULL,
    number integer,
    title text NOT NULL,
    heading text NOT NULL,
    level integer NOT NULL,
    line integer NOT NULL,
    end_line integer NOT NULL,
    declared_progress double precision,
    computed_progress double precision,
    UNIQUE (plan_id, position)
);

CREATE TABLE sections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    position integer NOT NULL,
    level integer NOT NULL,
    title text NOT NULL,
    line integer NOT NULL,
    end_line integer NOT NULL,
    parent_position integer,
    phase_position integer,
    UNIQUE (plan_id, position)
);

CREATE TABLE tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    phase_id uuid REFERENCES phases (id) ON DELETE SET NULL,
    section_id uuid,  -- not a foreign key: one lookup less per written task; the engine sets it
    -- Deferred: a task may be written before its parent within one transaction.
    parent_id uuid REFERENCES tasks (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    position integer NOT NULL,
    line integer NOT NULL,
    end_line integer NOT NULL,
    status text NOT NULL,
    char text NOT NULL,
    text text NOT NULL,
    title text NOT NULL,
    label text,
    explicit_id text,
    depth integer NOT NULL DEFAULT 0,
    fields jsonb NOT NULL DEFAULT '{}',
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    revision integer NOT NULL DEFAULT 1
);
COMMENT ON TABLE tasks IS 'One checkbox line of a plan; id is the task''s identity everywhere.';
COMMENT ON COLUMN tasks.status IS
    'todo, done, in_progress, cancelled, deferred, important, question, or a raw character.';
COMMENT ON COLUMN tasks.char IS 'The checkbox character as written in the file.';
COMMENT ON COLUMN tasks.deleted_at IS
    'Tombstone: the task left the file (or was deleted); the row is kept.';
COMMENT ON COLUMN tasks.revision IS 'Counts writes of the row.';
CREATE INDEX tasks_live_plan ON tasks (plan_id, position) WHERE deleted_at IS NULL;
CREATE INDEX tasks_live_status ON tasks (status) WHERE deleted_at IS NULL;
-- Commands accept a unique prefix of a task id: a range scan of the primary key (the prefix
-- padded with 0s and with fs), so no index on id::text is needed.
CREATE INDEX tasks_explicit_id ON tasks (explicit_id) WHERE explicit_id IS NOT NULL;

CREATE TABLE plan_base (
    plan_id uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    content bytea NOT NULL,
    model jsonb NOT NULL,
    content_hash text NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE plan_base IS 'The file''s bytes and parsed model as of the last successful sync.';

CREATE TABLE sync_operations (
    id bigserial PRIMARY KEY,
    root_id uuid NOT NULL REFERENCES roots (id) ON DELETE CASCADE,
    kind text NOT NULL,
    status text NOT NULL,
    counts jsonb NOT NULL DEFAULT '{}',
    duration_s double precision NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_operations_root ON sync_operations (root_id, finished_at);

CREATE TABLE change_log (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    row_id uuid NOT NULL,
    plan_id uuid,
    op text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE')),
    old jsonb,
    new jsonb,
    origin text,
    changed_at timestamptz NOT NULL DEFAULT now(),
    consumed_at timestamptz
);
CREATE INDEX change_log_pending ON change_log (plan_id, id) WHERE consumed_at IS NULL;

CREATE TABLE conflicts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    task_id uuid REFERENCES tasks (id) ON DELETE SET NULL,
    type text NOT NULL,
    severity text NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    field text,
    base jsonb,
    markdown jsonb,
    database jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by text,
    resolution jsonb
);
CREATE INDEX conflicts_open ON conflicts (plan_id) WHERE status = 'open';

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    target text,
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
