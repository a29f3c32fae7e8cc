-- 医保 (insurance), SQLite: policy versions, claims, the fund ledger and
-- capitation settlements. Money is integer fen; ratios basis points.
--
-- insurance_policies: one row per policy version (yilian_domain::insurance::
-- PolicyVersion as JSON in `body`). Rows are never updated or deleted:
-- claims cite the version they were adjudicated under, so recomputing a
-- claim from its stored version reproduces it.
CREATE TABLE insurance_policies (
    id TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX insurance_policies_region ON insurance_policies(region, valid_from);

-- claims (结算单): one encounter's itemised cost and its adjudication.
-- service_date is the encounter's day (YYYY-MM-DD, China Standard Time);
-- items and rules are JSON (CostItem[], AppliedRule[]); consortium_id is the
-- consortium the resident's capitation budget belongs to (charged wherever
-- the care was given); in_county = 1 when the institution lies in the
-- resident's county (leakage is the rest).
-- state: entered → checked → valuated | rejected (reject_reason).
CREATE TABLE claims (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    consortium_id INTEGER REFERENCES consortia(id),
    referral_id INTEGER REFERENCES referrals(id),
    encounter_entry_id INTEGER REFERENCES record_entries(id),
    service_date TEXT NOT NULL,
    scheme TEXT NOT NULL,
    setting TEXT NOT NULL,
    level TEXT NOT NULL,
    referral_context TEXT NOT NULL,
    in_county INTEGER NOT NULL,
    items TEXT NOT NULL,
    total_fen INTEGER NOT NULL,
    covered_fen INTEGER NOT NULL,
    uncovered_fen INTEGER NOT NULL,
    deductible_fen INTEGER NOT NULL,
    ratio_bp INTEGER NOT NULL,
    fund_fen INTEGER NOT NULL,
    resident_fen INTEGER NOT NULL,
    capped_fen INTEGER NOT NULL,
    ytd_fund_fen INTEGER NOT NULL,
    policy_id TEXT NOT NULL REFERENCES insurance_policies(id),
    rules TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('entered', 'checked', 'valuated', 'rejected')),
    reject_reason TEXT,
    source TEXT NOT NULL DEFAULT 'api',
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    CHECK (fund_fen + resident_fen = total_fen)
);
CREATE INDEX claims_resident ON claims(resident_id, service_date);
CREATE INDEX claims_consortium ON claims(consortium_id, service_date);
CREATE INDEX claims_institution ON claims(institution_id, service_date);
CREATE INDEX claims_state ON claims(state, service_date);

-- fund_ledger (基金台账): every payment of the insurance fund — a valuated
-- claim's fund share (kind 'claim', charged to the resident's consortium),
-- a family doctor team's contract fees (kind 'contract_fee', team_id) and a
-- settled capitation surplus share (kind 'capitation_surplus', institution_id).
CREATE TABLE fund_ledger (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('claim', 'contract_fee', 'capitation_surplus')),
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    consortium_id INTEGER REFERENCES consortia(id),
    institution_id INTEGER REFERENCES institutions(id),
    team_id INTEGER REFERENCES teams(id),
    source_id INTEGER,
    amount_fen INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX fund_ledger_consortium ON fund_ledger(consortium_id, year, month);
CREATE INDEX fund_ledger_kind ON fund_ledger(kind, year);

-- capitation_settlements (按人头打包付费年度清算): one per consortium and
-- year (a second settlement is refused: already_settled). distribution is
-- JSON [[institution_id, fen], …] of the retained surplus.
CREATE TABLE capitation_settlements (
    id INTEGER PRIMARY KEY,
    consortium_id INTEGER NOT NULL REFERENCES consortia(id),
    year INTEGER NOT NULL,
    insured INTEGER NOT NULL,
    budget_fen INTEGER NOT NULL,
    spent_fen INTEGER NOT NULL,
    surplus_fen INTEGER NOT NULL,
    overrun_fen INTEGER NOT NULL,
    fund_pays_fen INTEGER NOT NULL,
    policy_id TEXT NOT NULL REFERENCES insurance_policies(id),
    distribution TEXT NOT NULL,
    settled_by INTEGER REFERENCES users(id),
    settled_at TEXT NOT NULL,
    UNIQUE (consortium_id, year)
);
