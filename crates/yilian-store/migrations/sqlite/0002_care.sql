-- Family doctor contracting and chronic disease management (SQLite).
CREATE TABLE service_packages (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    target TEXT,
    valid_from TEXT NOT NULL,
    yearly_fee_fen INTEGER NOT NULL,
    payers TEXT NOT NULL,
    items TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (code, version)
);

CREATE TABLE contracts (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    team_id INTEGER NOT NULL REFERENCES teams(id),
    doctor_id INTEGER NOT NULL REFERENCES practitioners(id),
    household_code TEXT,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    status TEXT NOT NULL,
    secondary_hospital_id INTEGER REFERENCES institutions(id),
    tertiary_hospital_id INTEGER REFERENCES institutions(id),
    fee_fen INTEGER NOT NULL,
    cancel_reason TEXT,
    previous_id INTEGER REFERENCES contracts(id),
    signed_by INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- One family doctor team per resident at a time.
CREATE UNIQUE INDEX contracts_one_active ON contracts(resident_id) WHERE status = 'active';
CREATE INDEX contracts_team ON contracts(team_id, status);
CREATE INDEX contracts_doctor ON contracts(doctor_id, status);
CREATE INDEX contracts_resident ON contracts(resident_id);

CREATE TABLE contract_packages (
    contract_id INTEGER NOT NULL REFERENCES contracts(id),
    package_code TEXT NOT NULL,
    package_version INTEGER NOT NULL,
    PRIMARY KEY (contract_id, package_code)
);

CREATE TABLE service_deliveries (
    id INTEGER PRIMARY KEY,
    contract_id INTEGER NOT NULL REFERENCES contracts(id),
    kind TEXT NOT NULL,
    date TEXT NOT NULL,
    practitioner_id INTEGER REFERENCES practitioners(id),
    created_at TEXT NOT NULL
);
CREATE INDEX service_deliveries_contract ON service_deliveries(contract_id, kind);

CREATE TABLE enrolments (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    program TEXT NOT NULL,
    source TEXT NOT NULL,
    enrolled_on TEXT NOT NULL,
    status TEXT NOT NULL,
    factors TEXT NOT NULL DEFAULT '{}',
    risk TEXT NOT NULL,
    risk_on TEXT NOT NULL,
    assessment_on TEXT,
    plan TEXT,
    last_followup TEXT,
    next_due TEXT NOT NULL,
    last_specialist_review TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX enrolments_one_active ON enrolments(resident_id, program) WHERE status = 'active';
CREATE INDEX enrolments_due ON enrolments(status, next_due);

CREATE TABLE risk_history (
    id INTEGER PRIMARY KEY,
    enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
    at TEXT NOT NULL,
    risk TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX risk_history_enrolment ON risk_history(enrolment_id);

CREATE TABLE followups (
    id INTEGER PRIMARY KEY,
    enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    date TEXT NOT NULL,
    specialist_review INTEGER NOT NULL DEFAULT 0,
    sbp INTEGER,
    dbp INTEGER,
    heart_rate INTEGER,
    fasting_glucose REAL,
    hba1c REAL,
    weight_kg REAL,
    smoking INTEGER NOT NULL DEFAULT 0,
    adherence TEXT NOT NULL,
    controlled INTEGER,
    risk_after TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    practitioner_id INTEGER REFERENCES practitioners(id),
    institution_id INTEGER REFERENCES institutions(id),
    recorded_by INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX followups_enrolment ON followups(enrolment_id, date);

CREATE TABLE prescriptions (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    drug TEXT NOT NULL,
    drug_class TEXT NOT NULL,
    daily_dose TEXT NOT NULL,
    days_supplied INTEGER NOT NULL,
    long_rx INTEGER NOT NULL,
    assessment_recorded INTEGER NOT NULL,
    patient_signed INTEGER NOT NULL,
    institution_id INTEGER REFERENCES institutions(id),
    prescribed_by INTEGER,
    date TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX prescriptions_resident ON prescriptions(resident_id);

CREATE TABLE fee_settlements (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams(id),
    period TEXT NOT NULL,
    collected_fen INTEGER NOT NULL,
    team_share_bp INTEGER NOT NULL,
    team_pay_fen INTEGER NOT NULL,
    institution_fen INTEGER NOT NULL,
    members TEXT NOT NULL,
    created_by INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (team_id, period)
);
