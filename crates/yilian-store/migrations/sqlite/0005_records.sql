-- The shared health record, consents and the tamper-evident access log (SQLite).
CREATE TABLE record_entries (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    kind TEXT NOT NULL,
    encounter_type TEXT,
    occurred_at TEXT NOT NULL,
    code TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    value TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL DEFAULT '',
    reference_range TEXT NOT NULL DEFAULT '',
    abnormal INTEGER NOT NULL DEFAULT 0,
    hr_mark INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL DEFAULT '',
    encounter_id INTEGER REFERENCES record_entries(id),
    source TEXT NOT NULL DEFAULT 'manual',
    source_id INTEGER,
    created_by INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX record_entries_timeline ON record_entries(resident_id, occurred_at);
CREATE INDEX record_entries_encounters ON record_entries(resident_id, institution_id, kind, occurred_at);

CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    grantee_kind TEXT NOT NULL,
    grantee_id INTEGER NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    revoked_at TEXT,
    created_by INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX consents_resident ON consents(resident_id);

-- Append-only: each entry hashes the one before it (see yilian_domain::record::chain_hash).
CREATE TABLE access_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER,
    username TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    institution_id INTEGER,
    resident_id INTEGER NOT NULL,
    part TEXT NOT NULL,
    ground TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    review INTEGER NOT NULL DEFAULT 0,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX access_log_resident ON access_log(resident_id, id);
CREATE INDEX access_log_review ON access_log(review, id);
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;

-- The head of the chain: one row, updated with every append, so appends serialise.
CREATE TABLE access_log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO access_log_head (id, last_id, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
