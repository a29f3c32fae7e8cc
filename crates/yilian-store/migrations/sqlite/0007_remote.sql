-- 远程诊断 (remote reading and consultation), SQLite.
-- Exam files: the bytes with their SHA-256 (hex) and the media type found by
-- content (yilian_domain::remote::sniff), at most 20 MiB each.
CREATE TABLE remote_files (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    filename TEXT NOT NULL DEFAULT '',
    bytes BLOB NOT NULL,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX remote_files_sha256 ON remote_files(sha256);

-- One request: requested → claimed → reported → signed (or cancelled).
-- requested_at / claimed_at / reported_at / signed_at / due_at are China
-- Standard Time (YYYY-MM-DDTHH:MM:SS) like the referral tables;
-- created_at / updated_at are UTC. urgency_rank orders the work list
-- (0 emergency, 1 urgent, 2 routine).
CREATE TABLE remote_requests (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    kind TEXT NOT NULL,
    urgency TEXT NOT NULL,
    urgency_rank INTEGER NOT NULL,
    from_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    to_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    requested_by INTEGER REFERENCES users(id),
    question TEXT NOT NULL,
    reason TEXT,
    file_id INTEGER REFERENCES remote_files(id),
    file_ref TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('requested', 'claimed', 'reported', 'signed', 'cancelled')),
    claimed_by INTEGER REFERENCES users(id),
    claimed_at TEXT,
    report TEXT NOT NULL DEFAULT '',
    conclusion TEXT NOT NULL DEFAULT '',
    reported_at TEXT,
    signed_by INTEGER REFERENCES users(id),
    signed_at TEXT,
    record_entry_id INTEGER REFERENCES record_entries(id),
    cancel_reason TEXT,
    requested_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX remote_requests_worklist ON remote_requests(to_institution_id, state, urgency_rank, requested_at);
CREATE INDEX remote_requests_sent ON remote_requests(from_institution_id, requested_at);
CREATE INDEX remote_requests_resident ON remote_requests(resident_id, requested_at);
CREATE INDEX remote_requests_due ON remote_requests(state, due_at);
