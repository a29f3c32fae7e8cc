//! 可及性 — geographic accessibility on a road network (SPEC §2.7, seed 001
//! art. 29: the "15分钟社区健康服务可及圈" and the "30分钟乡村健康服务可及圈").
//!
//! Travel times are shortest paths over the road graph (Dijkstra, from
//! `petgraph`), never straight lines. On top of them:
//!
//! * [`coverage`] — the population share within a time of a service;
//! * [`two_step_fca`] — the two-step floating catchment area score (Luo &
//!   Wang 2003), physicians per 1,000 residents reachable from each place.
//!
//! Like the rest of the crate these are pure functions that never panic: an
//! out-of-range node is unreachable, a negative population counts as none,
//! and a non-finite or negative supply as no supply. Only a malformed road
//! graph is refused, when it is built ([`RoadGraph::new`]).

use petgraph::algo::dijkstra;
use petgraph::graph::{NodeIndex, UnGraph};
use yilian_domain::error::Explain;

/// Slack, in minutes, when a time is compared with a limit: sums of decimal
/// minutes (0.1 + 0.2) must not fall outside a limit they meet.
pub const TOLERANCE_MIN: f64 = 1e-9;

/// A road graph refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccessError {
    #[error("edge {edge} names node {node}, but the graph has nodes 0..{nodes}")]
    UnknownNode {
        edge: usize,
        node: usize,
        nodes: usize,
    },
    #[error("edge {edge} takes {minutes} minutes; travel times must be finite and positive")]
    InvalidMinutes { edge: usize, minutes: f64 },
}

impl Explain for AccessError {
    fn code(&self) -> &'static str {
        match self {
            AccessError::UnknownNode { .. } => "road_unknown_node",
            AccessError::InvalidMinutes { .. } => "road_invalid_minutes",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            AccessError::UnknownNode { edge, node, nodes } => {
                format!(
                    "第 {edge} 条道路连接的节点 {node} 不存在（节点编号为 0 至 {}）",
                    nodes.saturating_sub(1)
                )
            }
            AccessError::InvalidMinutes { edge, minutes } => {
                format!("第 {edge} 条道路的通行时间 {minutes} 分钟无效：须为有限的正数")
            }
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// An undirected road network: nodes `0..n`, edges weighted by travel minutes.
#[derive(Debug, Clone)]
pub struct RoadGraph {
    graph: UnGraph<(), f64>,
}

impl RoadGraph {
    /// Builds the graph of `nodes` nodes and the edges `(a, b, minutes)`.
    /// Refuses an edge naming a node `≥ nodes` and travel minutes that are
    /// not finite and positive.
    pub fn new(nodes: usize, edges: &[(usize, usize, f64)]) -> Result<Self, AccessError> {
        let mut graph = UnGraph::with_capacity(nodes + 1, edges.len() + 1);
        for _ in 0..nodes {
            graph.add_node(());
        }
        for (edge, &(a, b, minutes)) in edges.iter().enumerate() {
            if let Some(node) = [a, b].into_iter().find(|&x| x >= nodes) {
                return Err(AccessError::UnknownNode { edge, node, nodes });
            }
            if !(minutes.is_finite() && minutes > 0.0) {
                return Err(AccessError::InvalidMinutes { edge, minutes });
            }
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), minutes);
        }
        Ok(Self { graph })
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }
}

/// Shortest travel minutes from `start` to the first `n` nodes of `graph`.
fn shortest(graph: &UnGraph<(), f64>, start: NodeIndex, n: usize) -> Vec<f64> {
    let scores = dijkstra(graph, start, None, |e| *e.weight());
    (0..n)
        .map(|i| {
            scores
                .get(&NodeIndex::new(i))
                .copied()
                .unwrap_or(f64::INFINITY)
        })
        .collect()
}

/// For every node, the shortest travel minutes to its nearest source
/// (multi-source Dijkstra through a virtual hub joined to every source at no
/// cost); `f64::INFINITY` where no source is reachable. Sources that are not
/// nodes are ignored; with none, every node is unreachable.
pub fn travel_times(g: &RoadGraph, sources: &[usize]) -> Vec<f64> {
    let n = g.node_count();
    let mut graph = g.graph.clone();
    let hub = graph.add_node(());
    for &s in sources.iter().filter(|&&s| s < n) {
        graph.add_edge(hub, NodeIndex::new(s), 0.0);
    }
    shortest(&graph, hub, n)
}

/// Shortest travel minutes from `source` to every node (`f64::INFINITY` where
/// unreachable, and everywhere if `source` is not a node).
pub fn times_from(g: &RoadGraph, source: usize) -> Vec<f64> {
    let n = g.node_count();
    if source >= n {
        return vec![f64::INFINITY; n];
    }
    shortest(&g.graph, NodeIndex::new(source), n)
}

/// Whether node `i`'s time in `times` is within `limit` minutes.
fn reached(times: &[f64], i: usize, limit: f64) -> bool {
    times.get(i).is_some_and(|&t| t <= limit + TOLERANCE_MIN)
}

/// Population within a travel time: `covered` of `population` residents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    pub covered: i64,
    pub population: i64,
    /// `covered / population`; `None` when there is no population.
    pub share: Option<f64>,
}

/// The population within `within_min` minutes (inclusive: a village exactly
/// 15.0 minutes away is within 15 minutes). `population[i]` lives at node `i`
/// of `times` (from [`travel_times`]); entries beyond the shorter slice are
/// ignored and negative populations count as 0.
pub fn coverage(times: &[f64], population: &[i64], within_min: f64) -> Coverage {
    let (mut covered, mut total) = (0, 0);
    for (i, &p) in population.iter().enumerate().take(times.len()) {
        let p = p.max(0);
        total += p;
        if reached(times, i, within_min) {
            covered += p;
        }
    }
    Coverage {
        covered,
        population: total,
        share: (total > 0).then(|| covered as f64 / total as f64),
    }
}

/// Two-step floating catchment area (Luo & Wang 2003).
///
/// `demand` is `(node, residents)`, `supply` is `(node, physicians)` and
/// `d0_min` the catchment in minutes (inclusive).
///
/// 1. For each supply point j: `R_j = S_j / Σ_{k: t_kj ≤ d0} P_k`, its
///    physicians per resident of its catchment (0 if nobody lives in it).
/// 2. For each demand point i: `A_i = Σ_{j: t_ij ≤ d0} R_j`.
///
/// Returns `1000 · A_i` — physicians per 1,000 residents — one score per
/// demand entry, in order. The scores conserve supply: `Σ P_i · A_i` equals
/// the physicians of every supply point that has residents in reach.
pub fn two_step_fca(
    g: &RoadGraph,
    demand: &[(usize, i64)],
    supply: &[(usize, f64)],
    d0_min: f64,
) -> Vec<f64> {
    // Step 1: each supply point's times (the graph is undirected, so t_ij =
    // t_ji) and its ratio R_j.
    let catchments: Vec<(Vec<f64>, f64)> = supply
        .iter()
        .map(|&(j, physicians)| {
            let t = times_from(g, j);
            let served: i64 = demand
                .iter()
                .filter(|(k, _)| reached(&t, *k, d0_min))
                .map(|(_, p)| (*p).max(0))
                .sum();
            let ratio = if served > 0 && physicians.is_finite() && physicians > 0.0 {
                physicians / served as f64
            } else {
                0.0
            };
            (t, ratio)
        })
        .collect();
    // Step 2: sum the ratios of the supply points in reach of each place.
    demand
        .iter()
        .map(|&(i, _)| {
            1000.0
                * catchments
                    .iter()
                    .filter(|(t, _)| reached(t, i, d0_min))
                    .map(|(_, r)| r)
                    .sum::<f64>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 —2— 1 —3— 2 —4— 3 —6— 4: from node 0 the times are 0, 2, 5, 9, 15.
    fn line() -> RoadGraph {
        RoadGraph::new(5, &[(0, 1, 2.0), (1, 2, 3.0), (2, 3, 4.0), (3, 4, 6.0)]).unwrap()
    }

    #[test]
    fn line_times_add_up_along_the_road() {
        assert_eq!(times_from(&line(), 0), vec![0.0, 2.0, 5.0, 9.0, 15.0]);
        assert_eq!(times_from(&line(), 2), vec![5.0, 3.0, 0.0, 4.0, 10.0]);
    }

    #[test]
    fn two_hops_beat_a_slow_direct_road() {
        // The direct road 0–1 takes 10 minutes, 0–2–1 takes 3 + 4 = 7.
        let g = RoadGraph::new(3, &[(0, 1, 10.0), (0, 2, 3.0), (2, 1, 4.0)]).unwrap();
        assert_eq!(times_from(&g, 0), vec![0.0, 7.0, 3.0]);
        assert_eq!(times_from(&g, 1), vec![7.0, 0.0, 4.0]);
    }

    #[test]
    fn several_sources_give_the_time_to_the_nearest() {
        assert_eq!(
            travel_times(&line(), &[0, 4]),
            vec![0.0, 2.0, 5.0, 6.0, 0.0]
        );
        // A duplicate and a non-node source change nothing.
        assert_eq!(
            travel_times(&line(), &[4, 0, 4, 99]),
            vec![0.0, 2.0, 5.0, 6.0, 0.0]
        );
        assert_eq!(travel_times(&line(), &[0]), times_from(&line(), 0));
    }

    #[test]
    fn unreachable_nodes_are_infinitely_far() {
        let g = RoadGraph::new(4, &[(0, 1, 5.0)]).unwrap();
        let inf = f64::INFINITY;
        assert_eq!(travel_times(&g, &[0]), vec![0.0, 5.0, inf, inf]);
        assert_eq!(travel_times(&g, &[]), vec![inf; 4]);
        assert_eq!(times_from(&g, 7), vec![inf; 4]);
        assert_eq!(travel_times(&RoadGraph::new(0, &[]).unwrap(), &[0]), vec![]);
    }

    #[test]
    fn malformed_graphs_are_refused() {
        let e = RoadGraph::new(3, &[(0, 1, 1.0), (1, 3, 1.0)]).unwrap_err();
        assert_eq!(
            e,
            AccessError::UnknownNode {
                edge: 1,
                node: 3,
                nodes: 3
            }
        );
        assert_eq!(e.code(), "road_unknown_node");
        assert!(
            e.message_zh().contains("节点 3 不存在"),
            "{}",
            e.message_zh()
        );
        assert!(e.message_en().contains("node 3"), "{}", e.message_en());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = RoadGraph::new(2, &[(0, 1, bad)]).unwrap_err();
            assert_eq!(e.code(), "road_invalid_minutes");
            assert!(e.message_zh().contains("无效"));
        }
    }

    #[test]
    fn coverage_is_population_weighted_and_inclusive() {
        let times = times_from(&line(), 0); // 0, 2, 5, 9, 15
        let pop = [100, 200, 300, 400, 500];
        // Exactly 15.0 minutes away counts as within 15 minutes.
        let c = coverage(&times, &pop, 15.0);
        assert_eq!((c.covered, c.population, c.share), (1500, 1500, Some(1.0)));
        let c = coverage(&times, &pop, 14.99);
        assert_eq!((c.covered, c.share), (1000, Some(1000.0 / 1500.0)));
        let c = coverage(&times, &pop, 5.0);
        assert_eq!((c.covered, c.share), (600, Some(0.4)));
        // Rounding in a sum of decimal minutes does not push a place out.
        assert_eq!(coverage(&[0.1 + 0.2], &[7], 0.3).covered, 7);
        // Unreachable places are never covered; no population, no share.
        let c = coverage(&[f64::INFINITY, 1.0], &[10, 30], f64::MAX);
        assert_eq!((c.covered, c.population), (30, 40));
        assert_eq!(coverage(&times, &[], 15.0).share, None);
        assert_eq!(coverage(&times, &[0, -5], 15.0).population, 0);
    }

    #[test]
    fn two_step_fca_matches_a_hand_computation() {
        // Demand D0, D1, D2 at nodes 0, 1, 2; supply A at node 3, B at node 4:
        //
        //   D0 —10— A —20— D1 —15— B —25— D2
        //
        // P = 2000, 3000, 5000 residents; A has 10 physicians, B has 5; d0 = 30.
        let g =
            RoadGraph::new(5, &[(0, 3, 10.0), (3, 1, 20.0), (1, 4, 15.0), (4, 2, 25.0)]).unwrap();
        let demand = [(0, 2000), (1, 3000), (2, 5000)];
        let supply = [(3, 10.0), (4, 5.0)];
        // Step 1. From A: D0 10 min, D1 20, D2 60 → catchment D0 + D1 = 5000,
        //   R_A = 10 / 5000 = 0.002.
        // From B: D0 45 min, D1 15, D2 25 → catchment D1 + D2 = 8000,
        //   R_B = 5 / 8000 = 0.000625.
        // Step 2. D0 reaches A only (10 min): 0.002 → 2.0 per 1,000;
        //   D1 reaches A (20) and B (15): 0.002 + 0.000625 → 2.625;
        //   D2 reaches B only (25): 0.000625 → 0.625.
        let a = two_step_fca(&g, &demand, &supply, 30.0);
        let expected = [2.0, 2.625, 0.625];
        for (x, e) in a.iter().zip(expected) {
            assert!((x - e).abs() < 1e-12, "{a:?}");
        }
        // Conservation: (2000·2 + 3000·2.625 + 5000·0.625) / 1000 = 15 physicians.
        let total: f64 = a.iter().zip(demand).map(|(x, (_, p))| x * p as f64).sum();
        assert!((total / 1000.0 - 15.0).abs() < 1e-9);
        // The catchment is inclusive: at d0 = 25 D2 (exactly 25 min from B)
        // stays in B's catchment, so nothing changes.
        assert_eq!(two_step_fca(&g, &demand, &supply, 25.0), a);
        // At d0 = 20 B serves D1 alone: R_B = 5 / 3000, so D1 scores
        // 2 + 5000 / 3000 per 1,000 and D2 reaches nothing.
        let b = two_step_fca(&g, &demand, &supply, 20.0);
        assert!((b[1] - (2.0 + 5000.0 / 3000.0)).abs() < 1e-12, "{b:?}");
        assert_eq!(b[2], 0.0);
    }

    #[test]
    fn two_step_fca_with_everyone_in_reach_is_the_overall_ratio() {
        let g = line();
        let demand = [(0, 120), (1, 80), (3, 300), (4, 500)];
        let supply = [(2, 3.0), (4, 1.0)];
        for x in two_step_fca(&g, &demand, &supply, 60.0) {
            assert!((x - 4.0).abs() < 1e-12, "4 physicians for 1000 residents");
        }
    }

    #[test]
    fn two_step_fca_tolerates_degenerate_input() {
        let g = RoadGraph::new(3, &[(0, 1, 5.0)]).unwrap();
        // Supply with nobody in reach, bad supply figures, demand off the graph.
        let demand = [(0, 100), (9, 50), (1, -4)];
        let supply = [(2, 4.0), (0, f64::NAN), (1, -2.0), (8, 3.0)];
        assert_eq!(two_step_fca(&g, &demand, &supply, 30.0), vec![0.0; 3]);
        assert_eq!(two_step_fca(&g, &[], &supply, 30.0), Vec::<f64>::new());
    }
}
