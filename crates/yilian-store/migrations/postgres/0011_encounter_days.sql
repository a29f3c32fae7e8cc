-- Encounters per day, institution and resident township (PostgreSQL; same
-- shape and meaning as SQLite's — see migrations/sqlite/0011).
--
-- The trigger is per statement with a transition table: a bulk insert adds
-- its encounters grouped, and upserts its rows in key order, so concurrent
-- writers lock the rollup's rows in the same order.
CREATE TABLE encounter_days (
    day TEXT COLLATE "C" NOT NULL,
    institution_id BIGINT NOT NULL REFERENCES institutions(id),
    township TEXT COLLATE "C" NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, institution_id, township)
);

INSERT INTO encounter_days (day, institution_id, township, n)
SELECT substr(e.occurred_at, 1, 10), e.institution_id, substr(r.region_code, 1, 9), COUNT(*)
FROM record_entries e JOIN residents r ON r.id = e.resident_id
WHERE e.kind = 'encounter'
GROUP BY 1, 2, 3;

CREATE FUNCTION record_entries_count_encounters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO encounter_days (day, institution_id, township, n)
    SELECT substr(e.occurred_at, 1, 10), e.institution_id, substr(r.region_code, 1, 9), COUNT(*)
    FROM added e JOIN residents r ON r.id = e.resident_id
    WHERE e.kind = 'encounter'
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (day, institution_id, township) DO UPDATE SET n = encounter_days.n + excluded.n;
    RETURN NULL;
END $$;
CREATE TRIGGER record_entries_count_encounters AFTER INSERT ON record_entries
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION record_entries_count_encounters();

CREATE FUNCTION record_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'record_entries are append-only'; END $$;
CREATE TRIGGER record_entries_no_delete BEFORE DELETE ON record_entries
FOR EACH ROW EXECUTE FUNCTION record_entries_append_only();
CREATE TRIGGER record_entries_no_recount BEFORE UPDATE OF resident_id, institution_id, kind, occurred_at ON record_entries
FOR EACH ROW EXECUTE FUNCTION record_entries_append_only();
