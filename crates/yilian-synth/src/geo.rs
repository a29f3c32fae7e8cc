//! The county's geography: a road network between its seats and villages,
//! and the boundaries of its townships — for accessibility analysis (可及性,
//! SPEC §2.7) and maps.
//!
//! **Roads.** One node per seat: the county seat, each township seat and
//! each village (at the regions' coordinates). Edges:
//! * county roads from the county seat to every township seat;
//! * township roads from each township seat to its 2 nearest township seats;
//! * village roads, within each township, from each village towards the
//!   seat — to the nearest of the seat and the villages nearer the seat than
//!   it, so the roads branch out like a tree and every village is connected
//!   — and to its 2 nearest villages.
//!
//! A road is the great-circle distance times a detour factor drawn per road
//! (1.2–1.6; winding mountain roads 1.6–2.4), at least [`MIN_ROAD_KM`]; its
//! minutes are `km / speed × 60` at its class's speed. About one rural
//! village in five is a mountain village ([`REMOTE_SHARE`]): all its roads are
//! mountain roads, so the farther of them lie beyond 30 minutes of their
//! township health center — as in a real mountain county, where some 85–95 %
//! of residents are within 30 minutes (over 40 seeds at 5,000 residents:
//! 83–96 %, median 91 %).
//!
//! **Boundaries.** The county outline is the convex hull of discs of 2–4 km
//! (drawn per place) around every seat and village. A township's polygon is
//! its seat's Voronoi cell within the outline, grown to the convex hull of
//! that cell and 400 m discs around its seat and villages: every village lies
//! strictly inside its own township. Where a village lies across the
//! seats' Voronoi line the grown polygon overlaps its neighbour's — the
//! townships cover the county, with small overlaps and no gaps.
//!
//! Deterministic: the draws come from the region stage's seed on its own
//! stream, so the layout's draws are untouched.

use std::collections::{HashMap, HashSet};
use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::rng::{Stage, chance, stage_rng};
use crate::{County, CountySpec, RegionLevel};

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Kilometres per degree of latitude (and of longitude at the equator).
const KM_PER_DEGREE: f64 = EARTH_RADIUS_KM * PI / 180.0;
/// The shortest road: a seat and the village at the same coordinates are
/// still a few hundred metres of street apart.
pub const MIN_ROAD_KM: f64 = 0.3;
/// Share of rural villages (not a township's seat village, not an urban
/// community) reached only by mountain roads.
pub const REMOTE_SHARE: f64 = 0.2;
/// Radius range of the discs whose hull is the county outline, km.
const OUTLINE_MARGIN_KM: (f64, f64) = (2.0, 4.0);
/// Radius of the disc kept around each village inside its township, km.
const VILLAGE_PAD_KM: f64 = 0.4;

/// The county's road network and boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geography {
    /// Node `i` has `id == i`.
    pub nodes: Vec<RoadNode>,
    /// Undirected; at most one edge per pair of nodes.
    pub edges: Vec<RoadEdge>,
    /// A GeoJSON FeatureCollection (RFC 7946: `[lon, lat]`, exterior rings
    /// counter-clockwise): the county outline (properties `code`, `name`,
    /// `level = "county"`), then one Polygon per township (`level =
    /// "township"`).
    pub boundaries: String,
}

impl Geography {
    /// The node at the seat of a region (county, township or village code).
    pub fn node_of(&self, region_code: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.region_code == region_code)
    }
}

/// A place on the road network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoadNode {
    pub id: usize,
    /// The region it is the seat of: a village (12 digits), a township (9) or
    /// the county (6).
    pub region_code: String,
    pub lon: f64,
    pub lat: f64,
}

/// A road between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoadEdge {
    pub from: usize,
    pub to: usize,
    /// Length along the road (0.01 km).
    pub km: f64,
    /// `km / class.speed_kmh() × 60`.
    pub minutes: f64,
    pub class: RoadClass,
}

/// Road classes and their typical speeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoadClass {
    /// 县道, 60 km/h.
    CountyRoad,
    /// 乡道, 40 km/h.
    TownshipRoad,
    /// 村道, 25 km/h.
    VillageRoad,
    /// 山区道路, 12 km/h: narrow, winding roads to mountain villages.
    MountainRoad,
}

impl RoadClass {
    /// The stored code (`county_road`, `township_road`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RoadClass::CountyRoad => "county_road",
            RoadClass::TownshipRoad => "township_road",
            RoadClass::VillageRoad => "village_road",
            RoadClass::MountainRoad => "mountain_road",
        }
    }

    pub fn speed_kmh(self) -> f64 {
        match self {
            RoadClass::CountyRoad => 60.0,
            RoadClass::TownshipRoad => 40.0,
            RoadClass::VillageRoad => 25.0,
            RoadClass::MountainRoad => 12.0,
        }
    }

    /// The range of the detour factor: road length over great-circle distance.
    fn detour(self) -> (f64, f64) {
        match self {
            RoadClass::MountainRoad => (1.6, 2.4),
            _ => (1.2, 1.6),
        }
    }
}

/// `x` rounded to `decimals` decimal places.
fn round_to(x: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (x * k).round() / k
}

/// Great-circle (haversine) distance between two `(lon, lat)` points, km.
fn great_circle_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lon1, lat1) = (a.0.to_radians(), a.1.to_radians());
    let (lon2, lat2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

/// A township: its seat's node, its villages' nodes, its code and name.
#[derive(Debug)]
struct Town<'a> {
    code: &'a str,
    name: &'a str,
    seat: usize,
    villages: Vec<usize>,
    urban: bool,
}

/// Builds the geography of `county`; see the module documentation.
pub(crate) fn build(spec: &CountySpec, county: &County) -> Geography {
    let mut rng = stage_rng(spec.seed, Stage::Regions);
    rng.set_stream(1);

    let mut nodes = Vec::new();
    let mut towns: Vec<Town> = Vec::new();
    let mut town_of: HashMap<&str, usize> = HashMap::new();
    let mut county_seat = None;
    for r in &county.regions {
        let (Some(lon), Some(lat)) = (r.lon, r.lat) else {
            continue;
        };
        let id = nodes.len();
        match r.level {
            RegionLevel::County => county_seat = Some(id),
            RegionLevel::Township => {
                town_of.insert(&r.code, towns.len());
                towns.push(Town {
                    code: &r.code,
                    name: &r.name,
                    seat: id,
                    villages: Vec::new(),
                    // 街道 (urban subdistricts) have communities, not villages.
                    urban: r.name.ends_with("街道"),
                });
            }
            RegionLevel::Village => match r.parent_code.as_deref().and_then(|p| town_of.get(p)) {
                Some(&t) => towns[t].villages.push(id),
                None => continue,
            },
            RegionLevel::Province | RegionLevel::City => continue,
        }
        nodes.push(RoadNode {
            id,
            region_code: r.code.clone(),
            lon,
            lat,
        });
    }

    let edges = Roads::new(&nodes, &towns, &mut rng).build(county_seat, &towns);
    let boundaries = boundaries(&mut rng, county, &nodes, &towns);
    Geography {
        nodes,
        edges,
        boundaries,
    }
}

/// The road network under construction.
struct Roads<'a> {
    nodes: &'a [RoadNode],
    /// Mountain villages, by node.
    remote: Vec<bool>,
    rng: &'a mut ChaCha8Rng,
    seen: HashSet<(usize, usize)>,
    edges: Vec<RoadEdge>,
}

impl<'a> Roads<'a> {
    /// Draws the mountain villages.
    fn new(nodes: &'a [RoadNode], towns: &[Town], rng: &'a mut ChaCha8Rng) -> Self {
        let mut remote = vec![false; nodes.len()];
        for t in towns.iter().filter(|t| !t.urban) {
            for &v in &t.villages {
                let at_seat = great_circle_km(at(&nodes[v]), at(&nodes[t.seat])) < 0.05;
                remote[v] = !at_seat && chance(rng, REMOTE_SHARE);
            }
        }
        Self {
            nodes,
            remote,
            rng,
            seen: HashSet::new(),
            edges: Vec::new(),
        }
    }

    fn build(mut self, county_seat: Option<usize>, towns: &[Town]) -> Vec<RoadEdge> {
        if let Some(c) = county_seat {
            for t in towns {
                self.add(c, t.seat, RoadClass::CountyRoad);
            }
        }
        let seats: Vec<usize> = towns.iter().map(|t| t.seat).collect();
        for &s in &seats {
            for n in self.nearest(s, &seats, 2) {
                self.add(s, n, RoadClass::TownshipRoad);
            }
        }
        for t in towns {
            for &v in &t.villages {
                let d = self.km(v, t.seat);
                let inward: Vec<usize> = t
                    .villages
                    .iter()
                    .copied()
                    .filter(|&w| self.km(w, t.seat) < d)
                    .chain([t.seat])
                    .collect();
                for n in
                    self.nearest(v, &inward, 1)
                        .into_iter()
                        .chain(self.nearest(v, &t.villages, 2))
                {
                    self.add(v, n, RoadClass::VillageRoad);
                }
            }
        }
        self.edges
    }

    fn km(&self, a: usize, b: usize) -> f64 {
        great_circle_km(at(&self.nodes[a]), at(&self.nodes[b]))
    }

    /// The `k` nodes of `among` nearest to `a` (itself excluded; ties by id).
    fn nearest(&self, a: usize, among: &[usize], k: usize) -> Vec<usize> {
        let mut others: Vec<(f64, usize)> = among
            .iter()
            .filter(|&&b| b != a)
            .map(|&b| (self.km(a, b), b))
            .collect();
        others.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        others.into_iter().take(k).map(|(_, b)| b).collect()
    }

    /// Adds the road `a`–`b` unless there is one; a road to a mountain
    /// village is a mountain road whatever `class` it would have been.
    fn add(&mut self, a: usize, b: usize, class: RoadClass) {
        if a == b || !self.seen.insert((a.min(b), a.max(b))) {
            return;
        }
        let class = if self.remote[a] || self.remote[b] {
            RoadClass::MountainRoad
        } else {
            class
        };
        let (lo, hi) = class.detour();
        let detour = self.rng.random_range(lo..hi);
        let km = round_to((self.km(a, b) * detour).max(MIN_ROAD_KM), 2);
        self.edges.push(RoadEdge {
            from: a,
            to: b,
            km,
            minutes: km / class.speed_kmh() * 60.0,
            class,
        });
    }
}

fn at(n: &RoadNode) -> (f64, f64) {
    (n.lon, n.lat)
}

/// A point of the local plane, km east and north of the projection's origin.
type Xy = (f64, f64);

/// An equirectangular projection around `origin` — exact enough across a
/// county for hulls and Voronoi cells.
struct Plane {
    origin: (f64, f64),
    km_per_lon: f64,
}

impl Plane {
    fn new(origin: (f64, f64)) -> Self {
        Self {
            origin,
            km_per_lon: KM_PER_DEGREE * origin.1.to_radians().cos(),
        }
    }
    fn xy(&self, (lon, lat): (f64, f64)) -> Xy {
        (
            (lon - self.origin.0) * self.km_per_lon,
            (lat - self.origin.1) * KM_PER_DEGREE,
        )
    }
    /// `[lon, lat]`, to 5 decimals (about a metre).
    fn lon_lat(&self, (x, y): Xy) -> [f64; 2] {
        [
            round_to(self.origin.0 + x / self.km_per_lon, 5),
            round_to(self.origin.1 + y / KM_PER_DEGREE, 5),
        ]
    }
}

/// An octagon of circumradius `r` around `c`.
fn disc(c: Xy, r: f64) -> impl Iterator<Item = Xy> {
    (0..8).map(move |k| {
        let a = f64::from(k) * PI / 4.0;
        (c.0 + r * a.cos(), c.1 + r * a.sin())
    })
}

fn cross(o: Xy, a: Xy, b: Xy) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// One chain of Andrew's monotone chain: the turns of `points` that go
/// counter-clockwise.
fn hull_chain(points: impl Iterator<Item = Xy>) -> Vec<Xy> {
    let mut chain: Vec<Xy> = Vec::new();
    for p in points {
        while chain.len() >= 2 && cross(chain[chain.len() - 2], chain[chain.len() - 1], p) <= 0.0 {
            chain.pop();
        }
        chain.push(p);
    }
    chain
}

/// The convex hull, counter-clockwise, without collinear points.
fn convex_hull(mut points: Vec<Xy>) -> Vec<Xy> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let mut lower = hull_chain(points.iter().copied());
    let mut upper = hull_chain(points.iter().rev().copied());
    lower.pop();
    upper.pop();
    lower.append(&mut upper);
    lower
}

/// The part of a convex polygon where `n · p ≤ c` (Sutherland–Hodgman).
fn clip(poly: &[Xy], n: Xy, c: f64) -> Vec<Xy> {
    let side = |p: Xy| n.0 * p.0 + n.1 * p.1 - c;
    let mut out = Vec::with_capacity(poly.len() + 1);
    for (i, &p) in poly.iter().enumerate() {
        let q = poly[(i + 1) % poly.len()];
        let (sp, sq) = (side(p), side(q));
        if sp <= 0.0 {
            out.push(p);
        }
        if (sp < 0.0) != (sq < 0.0) && sp != sq {
            let t = sp / (sp - sq);
            out.push((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)));
        }
    }
    out
}

/// The Voronoi cell of `sites[i]` within the convex polygon `outline`.
fn voronoi_cell(outline: &[Xy], sites: &[Xy], i: usize) -> Vec<Xy> {
    let s = sites[i];
    sites
        .iter()
        .filter(|&&o| o != s)
        .fold(outline.to_vec(), |cell, &o| {
            // Nearer s than o: (o − s) · p ≤ (|o|² − |s|²) / 2.
            let n = (o.0 - s.0, o.1 - s.1);
            let c = (o.0 * o.0 + o.1 * o.1 - s.0 * s.0 - s.1 * s.1) / 2.0;
            clip(&cell, n, c)
        })
}

/// The boundaries FeatureCollection; see the module documentation.
fn boundaries(rng: &mut ChaCha8Rng, county: &County, nodes: &[RoadNode], towns: &[Town]) -> String {
    let origin = nodes.first().map(at).unwrap_or_default();
    let plane = Plane::new(origin);
    let xy = |i: usize| plane.xy(at(&nodes[i]));
    let (lo, hi) = OUTLINE_MARGIN_KM;
    let outline = convex_hull(
        (0..nodes.len())
            .flat_map(|i| disc(xy(i), rng.random_range(lo..hi)))
            .collect(),
    );
    let feature = |code: &str, name: &str, level: &str, ring: &[Xy]| {
        let mut coords: Vec<[f64; 2]> = ring.iter().map(|&p| plane.lon_lat(p)).collect();
        coords.dedup();
        if let Some(&first) = coords.first() {
            coords.push(first);
        }
        json!({
            "type": "Feature",
            "properties": { "code": code, "name": name, "level": level },
            "geometry": { "type": "Polygon", "coordinates": [coords] },
        })
    };
    let seats: Vec<Xy> = towns.iter().map(|t| xy(t.seat)).collect();
    let mut features = vec![feature(
        &county.county_code,
        &county.county_name,
        "county",
        &outline,
    )];
    for (i, t) in towns.iter().enumerate() {
        let mut points = voronoi_cell(&outline, &seats, i);
        for v in t.villages.iter().chain([&t.seat]) {
            points.extend(disc(xy(*v), VILLAGE_PAD_KM));
        }
        features.push(feature(t.code, t.name, "township", &convex_hull(points)));
    }
    let collection: Value = json!({ "type": "FeatureCollection", "features": features });
    collection.to_string()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::{county, geography};

    fn make(seed: u64) -> (County, Geography) {
        let spec = CountySpec::new(seed, 5_000, NaiveDate::from_ymd_opt(2026, 6, 30).unwrap());
        let c = county(&spec);
        let g = geography(&spec, &c);
        (c, g)
    }

    /// Ray casting over a closed ring of `[lon, lat]` pairs.
    fn inside(ring: &[[f64; 2]], (x, y): (f64, f64)) -> bool {
        let mut inside = false;
        for w in ring.windows(2) {
            let ([x1, y1], [x2, y2]) = (w[0], w[1]);
            if (y1 > y) != (y2 > y) && x < x1 + (y - y1) / (y2 - y1) * (x2 - x1) {
                inside = !inside;
            }
        }
        inside
    }

    /// Each feature's code, level and exterior ring.
    fn polygons(g: &Geography) -> Vec<(String, String, Vec<[f64; 2]>)> {
        let fc: Value = serde_json::from_str(&g.boundaries).unwrap();
        assert_eq!(fc["type"], "FeatureCollection");
        fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_eq!(f["geometry"]["type"], "Polygon");
                let ring: Vec<[f64; 2]> =
                    serde_json::from_value(f["geometry"]["coordinates"][0].clone()).unwrap();
                let p = &f["properties"];
                assert!(p["name"].as_str().is_some_and(|n| !n.is_empty()));
                (
                    p["code"].as_str().unwrap().to_string(),
                    p["level"].as_str().unwrap().to_string(),
                    ring,
                )
            })
            .collect()
    }

    #[test]
    fn same_seed_same_geography() {
        let (c, g) = make(11);
        assert_eq!(g, make(11).1);
        let (c2, g2) = make(12);
        assert_ne!(c.regions, c2.regions);
        assert_ne!(g.boundaries, g2.boundaries);
    }

    #[test]
    fn one_node_per_seat_and_village() {
        let (c, g) = make(3);
        let seats = c
            .regions
            .iter()
            .filter(|r| r.level >= RegionLevel::County)
            .count();
        assert_eq!(g.nodes.len(), seats);
        for (i, n) in g.nodes.iter().enumerate() {
            assert_eq!(n.id, i);
            assert!([6, 9, 12].contains(&n.region_code.len()));
            let r = c.regions.iter().find(|r| r.code == n.region_code).unwrap();
            assert_eq!((r.lon, r.lat), (Some(n.lon), Some(n.lat)));
        }
        assert_eq!(g.node_of(&c.county_code), Some(0));
    }

    #[test]
    fn the_network_is_connected() {
        for seed in [1, 2, 3, 4, 5] {
            let (_, g) = make(seed);
            let mut adj = vec![Vec::new(); g.nodes.len()];
            for e in &g.edges {
                adj[e.from].push(e.to);
                adj[e.to].push(e.from);
            }
            let mut seen = vec![false; g.nodes.len()];
            let mut stack = vec![0];
            seen[0] = true;
            while let Some(a) = stack.pop() {
                for &b in &adj[a] {
                    if !std::mem::replace(&mut seen[b], true) {
                        stack.push(b);
                    }
                }
            }
            assert!(seen.iter().all(|s| *s), "seed {seed}: not connected");
        }
    }

    #[test]
    fn roads_take_their_length_at_their_speed() {
        let (_, g) = make(7);
        let mut pairs = HashSet::new();
        let mut classes = HashSet::new();
        for e in &g.edges {
            assert_ne!(e.from, e.to);
            assert!(
                pairs.insert((e.from.min(e.to), e.from.max(e.to))),
                "duplicate road"
            );
            assert!((e.minutes - e.km / e.class.speed_kmh() * 60.0).abs() < 1e-9);
            let straight = great_circle_km(at(&g.nodes[e.from]), at(&g.nodes[e.to]));
            let (lo, hi) = e.class.detour();
            assert!(e.km >= MIN_ROAD_KM - 1e-9);
            assert!(
                e.km >= straight * lo - 0.005 && e.km <= (straight * hi).max(MIN_ROAD_KM) + 0.005
            );
            classes.insert(e.class);
        }
        assert_eq!(classes.len(), 4, "every road class is used: {classes:?}");
    }

    #[test]
    fn every_village_lies_in_its_own_township() {
        for seed in [1, 2, 3, 4, 5, 6] {
            let (c, g) = make(seed);
            let polygons = polygons(&g);
            assert_eq!(polygons.len(), 1 + c.townships().count());
            let (code, level, outline) = &polygons[0];
            assert_eq!(
                (code.as_str(), level.as_str()),
                (c.county_code.as_str(), "county")
            );
            let ring_of: HashMap<&str, &Vec<[f64; 2]>> = polygons[1..]
                .iter()
                .map(|(code, level, ring)| {
                    assert_eq!(level, "township");
                    (code.as_str(), ring)
                })
                .collect();
            let mut foreign = 0;
            for v in c.villages() {
                let p = (v.lon.unwrap(), v.lat.unwrap());
                let own = v.parent_code.as_deref().unwrap();
                assert!(
                    inside(ring_of[own], p),
                    "seed {seed}: {} outside {own}",
                    v.code
                );
                assert!(inside(outline, p));
                foreign += ring_of
                    .iter()
                    .filter(|(t, r)| **t != own && inside(r, p))
                    .count();
            }
            // Overlaps are small: few villages also fall in another township.
            let villages = c.villages().count();
            assert!(
                foreign * 10 < villages,
                "seed {seed}: {foreign} of {villages}"
            );
            for (_, _, ring) in &polygons {
                assert!(ring.len() >= 4 && ring.first() == ring.last());
                // [lon, lat] order: the county lies at about 112.5–113.2 E, 35.4–35.9 N.
                for [lon, lat] in ring {
                    assert!((112.0..113.7).contains(lon) && (35.0..36.3).contains(lat));
                }
            }
        }
    }
}
