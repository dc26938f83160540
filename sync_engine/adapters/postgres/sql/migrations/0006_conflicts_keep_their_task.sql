-- A conflict keeps naming its task when another program deletes the task's row
-- (DELETE FROM tasks): with the foreign key, the row's deletion set task_id to NULL, and the
-- person's value that the conflict held was then taken out of the file as if no one had
-- edited it. Now the next sync brings the task back as a tombstone (as it does for any task
-- an open conflict names) and meets the deletion with a structure conflict.
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_task_id_fkey;
COMMENT ON COLUMN conflicts.task_id IS
    'The task the conflict is about (NULL: about the plan); kept when the task''s row is deleted.';
