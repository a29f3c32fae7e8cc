-- 监测评估 (monitoring and evaluation), SQLite.
--
-- region_statistics: figures the health system receives from other
-- departments (统计、民政、托育): childcare places per township, population,
-- deaths and disability share per abridged age band for the county — one
-- value per region, year and key (yilian_domain::plan::Statistics keys).
-- A resubmitted figure replaces the earlier one.
CREATE TABLE region_statistics (
    region_code TEXT NOT NULL REFERENCES regions(code),
    year INTEGER NOT NULL,
    key TEXT NOT NULL,
    value REAL NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (region_code, year, key)
);

-- The road network accessibility is measured on: nodes at the county seat,
-- township seats and villages (region_code of the seat), undirected edges
-- with travel minutes.
CREATE TABLE road_nodes (
    id INTEGER PRIMARY KEY,
    region_code TEXT NOT NULL REFERENCES regions(code),
    lon REAL NOT NULL,
    lat REAL NOT NULL
);
CREATE INDEX road_nodes_region ON road_nodes(region_code);
CREATE TABLE road_edges (
    from_node INTEGER NOT NULL REFERENCES road_nodes(id),
    to_node INTEGER NOT NULL REFERENCES road_nodes(id),
    km REAL NOT NULL,
    minutes REAL NOT NULL CHECK (minutes > 0),
    class TEXT NOT NULL,
    PRIMARY KEY (from_node, to_node)
);

-- Map boundaries (GeoJSON FeatureCollection text) per county.
CREATE TABLE geo_boundaries (
    region_code TEXT PRIMARY KEY REFERENCES regions(code),
    geojson TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- No period indexes on record_entries, referrals, remote_requests or
-- followups: the monitoring queries read a year of each (most of the
-- table), and a (kind, occurred_at) index made SQLite's planner range-scan
-- every encounter for one resident's recognition check instead of using the
-- resident's timeline index.
