-- The resident's township kept on contracts, chronic enrolments and remote
-- requests (PostgreSQL; same meaning as SQLite's — see
-- migrations/sqlite/0013): set from the resident before a row is inserted
-- or moves to another resident, rewritten when a resident's township
-- changes, so it always equals the resident's current township.
ALTER TABLE contracts ADD COLUMN township TEXT COLLATE "C";
ALTER TABLE enrolments ADD COLUMN township TEXT COLLATE "C";
ALTER TABLE remote_requests ADD COLUMN township TEXT COLLATE "C";

UPDATE contracts c SET township = substr(r.region_code, 1, 9) FROM residents r WHERE r.id = c.resident_id;
UPDATE enrolments e SET township = substr(r.region_code, 1, 9) FROM residents r WHERE r.id = e.resident_id;
UPDATE remote_requests q SET township = substr(r.region_code, 1, 9) FROM residents r WHERE r.id = q.resident_id;

CREATE INDEX enrolments_resident ON enrolments(resident_id);

CREATE FUNCTION township_of_resident() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.township := (SELECT substr(r.region_code, 1, 9) FROM residents r WHERE r.id = NEW.resident_id);
    RETURN NEW;
END $$;
CREATE TRIGGER contracts_township BEFORE INSERT OR UPDATE OF resident_id ON contracts
FOR EACH ROW EXECUTE FUNCTION township_of_resident();
CREATE TRIGGER enrolments_township BEFORE INSERT OR UPDATE OF resident_id ON enrolments
FOR EACH ROW EXECUTE FUNCTION township_of_resident();
CREATE TRIGGER remote_requests_township BEFORE INSERT OR UPDATE OF resident_id ON remote_requests
FOR EACH ROW EXECUTE FUNCTION township_of_resident();

CREATE FUNCTION residents_township_moves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE contracts SET township = substr(NEW.region_code, 1, 9) WHERE resident_id = NEW.id;
    UPDATE enrolments SET township = substr(NEW.region_code, 1, 9) WHERE resident_id = NEW.id;
    UPDATE remote_requests SET township = substr(NEW.region_code, 1, 9) WHERE resident_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER residents_township_moves AFTER UPDATE OF region_code ON residents
FOR EACH ROW WHEN (substr(OLD.region_code, 1, 9) IS DISTINCT FROM substr(NEW.region_code, 1, 9))
EXECUTE FUNCTION residents_township_moves();
