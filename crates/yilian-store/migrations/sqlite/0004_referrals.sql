-- Two-way referral, appointments and the notification outbox (SQLite).
CREATE TABLE referrals (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    direction TEXT NOT NULL,
    urgency TEXT NOT NULL,
    green_channel TEXT,
    from_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    to_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    to_department TEXT NOT NULL DEFAULT '',
    icd10 TEXT NOT NULL,
    diagnosis TEXT NOT NULL,
    reason TEXT NOT NULL,
    justification TEXT,
    summary TEXT NOT NULL DEFAULT '',
    results TEXT NOT NULL DEFAULT '',
    follow_up_plan TEXT NOT NULL DEFAULT '',
    team_id INTEGER REFERENCES teams(id),
    contracted INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL,
    findings TEXT NOT NULL DEFAULT '[]',
    submitted_at TEXT,
    deadline_at TEXT,
    decline_reason TEXT,
    redirected_from INTEGER REFERENCES referrals(id),
    appointment_id INTEGER,
    created_by INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX referrals_inbox ON referrals(to_institution_id, state, priority, deadline_at);
CREATE INDEX referrals_outbox ON referrals(from_institution_id, state);
CREATE INDEX referrals_resident ON referrals(resident_id);

CREATE TABLE referral_events (
    id INTEGER PRIMARY KEY,
    referral_id INTEGER NOT NULL REFERENCES referrals(id),
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    user_id INTEGER,
    role TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX referral_events_referral ON referral_events(referral_id);

CREATE TABLE slots (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    department TEXT NOT NULL DEFAULT '',
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    reserved_for_referral INTEGER NOT NULL DEFAULT 0,
    release_hours INTEGER NOT NULL DEFAULT 24,
    created_at TEXT NOT NULL
);
CREATE INDEX slots_institution ON slots(institution_id, starts_at);

CREATE TABLE appointments (
    id INTEGER PRIMARY KEY,
    slot_id INTEGER NOT NULL REFERENCES slots(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    referral_id INTEGER REFERENCES referrals(id),
    status TEXT NOT NULL,
    booked_by INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- A slot is never double-booked.
CREATE UNIQUE INDEX appointments_one_per_slot ON appointments(slot_id) WHERE status = 'booked';
CREATE INDEX appointments_resident ON appointments(resident_id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    institution_id INTEGER,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    last_error TEXT,
    dead INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox(delivered_at, dead, next_attempt_at);
