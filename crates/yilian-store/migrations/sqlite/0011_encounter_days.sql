-- Encounters per day, institution and resident township (SQLite).
--
-- The monitoring indicators group every encounter of a period by (month,
-- institution, township of the resident). Scanning the record for that is
-- a grouped pass over every encounter (9.4 M a year at 1M residents); this
-- rollup holds one row per (day, institution, township) with its count, so
-- a year is read as ~100 k rows. It is maintained in the transaction that
-- writes the encounter (the trigger below), whichever path writes it: the
-- API, FHIR, the generator's bulk load.
--
-- The township is the resident's at the time the encounter is written (a
-- resident who moves later keeps their past visits where they lived). Record
-- entries are append-only — a health record is never dropped or rewritten —
-- so the count never needs taking back; the guard triggers enforce that.
CREATE TABLE encounter_days (
    day TEXT NOT NULL,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    township TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, institution_id, township)
) WITHOUT ROWID;

INSERT INTO encounter_days (day, institution_id, township, n)
SELECT substr(e.occurred_at, 1, 10), e.institution_id, substr(r.region_code, 1, 9), COUNT(*)
FROM record_entries e JOIN residents r ON r.id = e.resident_id
WHERE e.kind = 'encounter'
GROUP BY 1, 2, 3;

CREATE TRIGGER record_entries_count_encounter AFTER INSERT ON record_entries
WHEN NEW.kind = 'encounter'
BEGIN
    INSERT INTO encounter_days (day, institution_id, township, n)
    SELECT substr(NEW.occurred_at, 1, 10), NEW.institution_id, substr(r.region_code, 1, 9), 1
    FROM residents r WHERE r.id = NEW.resident_id
    ON CONFLICT (day, institution_id, township) DO UPDATE SET n = encounter_days.n + 1;
END;

CREATE TRIGGER record_entries_no_delete BEFORE DELETE ON record_entries
BEGIN SELECT RAISE(ABORT, 'record_entries are append-only'); END;
CREATE TRIGGER record_entries_no_recount BEFORE UPDATE OF resident_id, institution_id, kind, occurred_at ON record_entries
BEGIN SELECT RAISE(ABORT, 'record_entries are append-only'); END;
