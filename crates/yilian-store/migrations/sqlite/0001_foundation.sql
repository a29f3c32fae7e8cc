-- Foundation schema (SQLite). Dates are ISO-8601 TEXT (YYYY-MM-DD), times
-- RFC 3339 UTC TEXT; JSON is TEXT.
CREATE TABLE regions (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent_code TEXT REFERENCES regions(code),
    lon REAL,
    lat REAL,
    population INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);
CREATE INDEX regions_parent ON regions(parent_code);

CREATE TABLE institutions (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    grade TEXT,
    ownership TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions(code),
    address TEXT NOT NULL DEFAULT '',
    lon REAL,
    lat REAL,
    beds TEXT NOT NULL DEFAULT '{}',
    staff TEXT NOT NULL DEFAULT '{}',
    services TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX institutions_region ON institutions(region_code);
CREATE INDEX institutions_kind ON institutions(kind);

CREATE TABLE consortia (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    lead_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    region_code TEXT NOT NULL REFERENCES regions(code),
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE consortium_members (
    consortium_id INTEGER NOT NULL REFERENCES consortia(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (consortium_id, institution_id)
);
CREATE INDEX consortium_members_institution ON consortium_members(institution_id);

CREATE TABLE practitioners (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    profession TEXT NOT NULL,
    specialty TEXT,
    is_gp INTEGER NOT NULL DEFAULT 0,
    is_tcm INTEGER NOT NULL DEFAULT 0,
    phone TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE practice_sites (
    practitioner_id INTEGER NOT NULL REFERENCES practitioners(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    is_main INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (practitioner_id, institution_id)
);
CREATE INDEX practice_sites_institution ON practice_sites(institution_id);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    capacity INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX teams_institution ON teams(institution_id);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams(id),
    practitioner_id INTEGER NOT NULL REFERENCES practitioners(id),
    role TEXT NOT NULL,
    PRIMARY KEY (team_id, practitioner_id)
);
CREATE INDEX team_members_practitioner ON team_members(practitioner_id);

CREATE TABLE card_serials (
    county TEXT PRIMARY KEY,
    next_serial INTEGER NOT NULL
);

CREATE TABLE residents (
    id INTEGER PRIMARY KEY,
    id_number TEXT NOT NULL UNIQUE,
    health_card_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_pinyin TEXT NOT NULL,
    name_initials TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    phone TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions(code),
    address TEXT NOT NULL DEFAULT '',
    household_code TEXT,
    insurance TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    registered_at INTEGER REFERENCES institutions(id),
    merged_into INTEGER REFERENCES residents(id),
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX residents_region ON residents(region_code);
CREATE INDEX residents_name ON residents(name);
CREATE INDEX residents_pinyin ON residents(name_pinyin);
CREATE INDEX residents_initials ON residents(name_initials);
CREATE INDEX residents_phone ON residents(phone);
CREATE INDEX residents_household ON residents(household_code);
CREATE INDEX residents_merged ON residents(merged_into);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    scope_code TEXT,
    institution_id INTEGER REFERENCES institutions(id),
    region_code TEXT REFERENCES regions(code),
    resident_id INTEGER REFERENCES residents(id),
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id);

CREATE TABLE dup_candidates (
    id INTEGER PRIMARY KEY,
    a_id INTEGER NOT NULL REFERENCES residents(id),
    b_id INTEGER NOT NULL REFERENCES residents(id),
    score REAL NOT NULL,
    comparison TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL,
    UNIQUE (a_id, b_id)
);

CREATE TABLE merges (
    id INTEGER PRIMARY KEY,
    survivor_id INTEGER NOT NULL REFERENCES residents(id),
    merged_id INTEGER NOT NULL REFERENCES residents(id),
    candidate_id INTEGER REFERENCES dup_candidates(id),
    reason TEXT NOT NULL,
    merged_by INTEGER NOT NULL REFERENCES users(id),
    merged_at TEXT NOT NULL,
    undone_by INTEGER REFERENCES users(id),
    undone_at TEXT
);
CREATE INDEX merges_merged ON merges(merged_id);

CREATE TABLE synth_truth (
    resident_id INTEGER PRIMARY KEY REFERENCES residents(id),
    original_id INTEGER NOT NULL REFERENCES residents(id)
);

CREATE TABLE idempotency (
    user_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
