-- The resident's township (the first 9 digits of their region code) kept on
-- the rows the monitoring indicators count by township: contracts, chronic
-- enrolments and remote requests (SQLite).
--
-- The indicators count each of these by the township of the resident it
-- belongs to. Reading that through a join reached one wide resident row per
-- contract, enrolment and read: at 1M residents ~960 k B-tree descents into
-- a 4 GB table, half the time of those statements. The township is copied
-- here and kept in step by the database itself, whichever path writes:
-- - set from the resident when the row is inserted, or moves to another
--   resident;
-- - rewritten on every row of a resident whose township changes (they moved).
-- So it always equals the resident's current township, as the join gave.
ALTER TABLE contracts ADD COLUMN township TEXT;
ALTER TABLE enrolments ADD COLUMN township TEXT;
ALTER TABLE remote_requests ADD COLUMN township TEXT;

UPDATE contracts SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = contracts.resident_id);
UPDATE enrolments SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = enrolments.resident_id);
UPDATE remote_requests SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = remote_requests.resident_id);

-- A resident's enrolments, whatever their status (the move below rewrites them all).
CREATE INDEX enrolments_resident ON enrolments(resident_id);

CREATE TRIGGER contracts_township AFTER INSERT ON contracts
BEGIN
    UPDATE contracts SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = NEW.resident_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER contracts_township_follows AFTER UPDATE OF resident_id ON contracts
BEGIN
    UPDATE contracts SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = NEW.resident_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER enrolments_township AFTER INSERT ON enrolments
BEGIN
    UPDATE enrolments SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = NEW.resident_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER enrolments_township_follows AFTER UPDATE OF resident_id ON enrolments
BEGIN
    UPDATE enrolments SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = NEW.resident_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER remote_requests_township AFTER INSERT ON remote_requests
BEGIN
    UPDATE remote_requests SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = NEW.resident_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER remote_requests_township_follows AFTER UPDATE OF resident_id ON remote_requests
BEGIN
    UPDATE remote_requests SET township = (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = NEW.resident_id)
    WHERE id = NEW.id;
END;

CREATE TRIGGER residents_township_moves AFTER UPDATE OF region_code ON residents
WHEN substr(OLD.region_code, 1, 9) IS NOT substr(NEW.region_code, 1, 9)
BEGIN
    UPDATE contracts SET township = substr(NEW.region_code, 1, 9) WHERE resident_id = NEW.id;
    UPDATE enrolments SET township = substr(NEW.region_code, 1, 9) WHERE resident_id = NEW.id;
    UPDATE remote_requests SET township = substr(NEW.region_code, 1, 9) WHERE resident_id = NEW.id;
END;
