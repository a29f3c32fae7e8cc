-- 监测预警 (surveillance and early warning), SQLite.
--
-- surveillance_counts: one daily count per township (region code), channel
-- and code (yilian_domain::surveillance). A resubmitted day replaces the
-- earlier count (a correction); source says who wrote it (api, csv,
-- case_report — derived from case_reports —, generator).
CREATE TABLE surveillance_counts (
    township_code TEXT NOT NULL REFERENCES regions(code),
    channel TEXT NOT NULL,
    code TEXT NOT NULL,
    date TEXT NOT NULL,
    count INTEGER NOT NULL CHECK (count >= 0),
    source TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (township_code, channel, code, date)
);
CREATE INDEX surveillance_counts_date ON surveillance_counts(date);

-- case_reports: individual notifiable-disease reports (网络直报): disease,
-- onset date, the township of the address; the resident when known. Each
-- also counts in surveillance_counts (channel case_report, by onset date).
CREATE TABLE case_reports (
    id INTEGER PRIMARY KEY,
    disease TEXT NOT NULL,
    onset_date TEXT NOT NULL,
    township_code TEXT NOT NULL REFERENCES regions(code),
    address TEXT NOT NULL DEFAULT '',
    resident_id INTEGER REFERENCES residents(id),
    reported_by INTEGER REFERENCES users(id),
    institution_id INTEGER REFERENCES institutions(id),
    created_at TEXT NOT NULL
);
CREATE INDEX case_reports_place ON case_reports(township_code, disease, onset_date);

-- signals: what an algorithm raised for a township, channel and code on a
-- day (raised_on); strength = how many channels agree there (多点触发).
-- state: raised → verifying → confirmed | dismissed; the times give the
-- response clock (raised_at → verifying_at).
CREATE TABLE signals (
    id INTEGER PRIMARY KEY,
    raised_on TEXT NOT NULL,
    township_code TEXT NOT NULL REFERENCES regions(code),
    channel TEXT NOT NULL,
    code TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    observed REAL NOT NULL,
    threshold REAL NOT NULL,
    strength INTEGER NOT NULL DEFAULT 1,
    detail TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL CHECK (state IN ('raised', 'verifying', 'confirmed', 'dismissed')),
    raised_at TEXT NOT NULL,
    verifying_by INTEGER REFERENCES users(id),
    verifying_at TEXT,
    closed_by INTEGER REFERENCES users(id),
    closed_at TEXT,
    note TEXT NOT NULL DEFAULT '',
    event_id INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (raised_on, township_code, channel, code, algorithm)
);
CREATE INDEX signals_state ON signals(state, raised_on);

-- surveillance_events: a confirmed signal becomes an event (突发公共卫生事件
-- / 聚集性疫情) with its linked case reports.
CREATE TABLE surveillance_events (
    id INTEGER PRIMARY KEY,
    signal_id INTEGER NOT NULL REFERENCES signals(id),
    title TEXT NOT NULL,
    township_code TEXT NOT NULL REFERENCES regions(code),
    channel TEXT NOT NULL,
    code TEXT NOT NULL,
    opened_by INTEGER REFERENCES users(id),
    opened_at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE event_cases (
    event_id INTEGER NOT NULL REFERENCES surveillance_events(id),
    case_report_id INTEGER NOT NULL REFERENCES case_reports(id),
    PRIMARY KEY (event_id, case_report_id)
);
