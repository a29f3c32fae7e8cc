-- 检查检验结果互认 (test-result mutual recognition), SQLite.
--
-- test_orders: one row per item a clinician orders (开单), with what the
-- recognition check decided:
--   outcome 'recognized' — an earlier result was used instead of the test
--            (recognized_entry_id, its institution, saved_fen = the item's price);
--   outcome 'repeated'   — a recognisable result existed (recognized_entry_id,
--            the one offered) and the test was ordered anyway for a listed
--            reason (repeat_reason, repeat_text; the reason is also a chart
--            note in record_entries, source 'recognition', source_id = this id);
--   outcome 'new'        — no recognisable result: the test is ordered.
-- Times are China Standard Time text (YYYY-MM-DDTHH:MM:SS), as record_entries.
CREATE TABLE test_orders (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    item_code TEXT NOT NULL,
    item_kind TEXT NOT NULL,
    ordered_by INTEGER REFERENCES users(id),
    ordered_at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('recognized', 'repeated', 'new')),
    recognized_entry_id INTEGER REFERENCES record_entries(id),
    result_institution_id INTEGER REFERENCES institutions(id),
    saved_fen INTEGER NOT NULL DEFAULT 0,
    repeat_reason TEXT,
    repeat_text TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
-- The report: a period, grouped by ordering institution (and its consortia).
CREATE INDEX test_orders_period ON test_orders(ordered_at, institution_id);
CREATE INDEX test_orders_institution ON test_orders(institution_id, ordered_at);
CREATE INDEX test_orders_resident ON test_orders(resident_id, ordered_at);

-- 室间质评 — external quality assessment passed by an institution's lab /
-- imaging department: a result is from a lab "in good standing" when a pass
-- covers the day it was taken (passed_on <= that day <= valid_until).
-- Rows are appended (history kept); an institution without a covering pass
-- is not in good standing.
CREATE TABLE lab_quality (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    passed_on TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    assessor TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    recorded_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX lab_quality_institution ON lab_quality(institution_id, valid_until);
