-- A plan's pending write: what a both-ways sync is about to make of the plan, recorded (and
-- committed) before the file is renamed into place, and deleted by the transaction that
-- applies the database side. A sync killed between the two leaves the row; the next sync
-- finds the file holding content_hash and applies change (a PlanChange as JSON) exactly.

CREATE TABLE pending_writes (
    plan_id uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    content_hash text NOT NULL,
    change jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pending_writes IS
    'The database side of a plan''s sync whose file write may have happened without it; '
    'the engine''s own, rolled forward or dropped by the next sync.';
