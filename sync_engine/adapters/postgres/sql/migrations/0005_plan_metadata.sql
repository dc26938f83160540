-- Plan and phase metadata written by other programs (documented in docs/database.md):
--   UPDATE plans SET title = …, version = …, date = … WHERE id = …
--   UPDATE phases SET title = … WHERE id = …
-- Recorded in change_log (table_name 'plans' or 'phases', plan_id the plan's) and announced
-- like task edits; the next sync writes them to the file (the title heading, the version or
-- date on its line, the phase heading's title) or settles a conflict with an edit of the file.
-- The engine's own writes (sync_engine.origin = 'engine') are not recorded.

CREATE FUNCTION metadata_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    origin text := sync_engine_origin();
    -- A phase names its plan; a plan is its own.
    row_plan uuid := coalesce((to_jsonb(NEW) ->> 'plan_id')::uuid, NEW.id);
BEGIN
    IF origin = 'engine' THEN
        RETURN NULL;
    END IF;
    IF (to_jsonb(OLD) - 'updated_at') = (to_jsonb(NEW) - 'updated_at') THEN
        RETURN NULL;
    END IF;
    INSERT INTO change_log (table_name, row_id, plan_id, op, old, new, origin)
    VALUES (TG_TABLE_NAME, NEW.id, row_plan, TG_OP, to_jsonb(OLD), to_jsonb(NEW), origin);
    PERFORM pg_notify('sync_engine_changes', row_plan::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER plans_record_change
    AFTER UPDATE OF title, version, date ON plans
    FOR EACH ROW
    WHEN (current_setting('sync_engine.origin', true) IS DISTINCT FROM 'engine')
    EXECUTE FUNCTION metadata_record_change();

CREATE TRIGGER phases_record_change
    AFTER UPDATE OF title ON phases
    FOR EACH ROW
    WHEN (current_setting('sync_engine.origin', true) IS DISTINCT FROM 'engine')
    EXECUTE FUNCTION metadata_record_change();

COMMENT ON COLUMN plans.title IS
    'The plan''s title (its # heading, or title in its front matter). Another program may set '
    'it, and version and date: the next sync writes them to the file.';
COMMENT ON COLUMN phases.title IS
    'The phase''s title as its heading shows it after the numbering. Another program may set '
    'it: the next sync rewrites that part of the heading.';
