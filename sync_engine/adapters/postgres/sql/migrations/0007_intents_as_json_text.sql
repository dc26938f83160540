-- An intent (pending_writes.change) is written before every write-back's rename and read
-- back only by the engine, whole: kept as the JSON text it arrives as (json), not converted
-- to jsonb, a share of each write-back's time on the server. It is still checked to be JSON.
ALTER TABLE pending_writes ALTER COLUMN change TYPE json USING change::json;
