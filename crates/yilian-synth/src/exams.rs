//! 乡检查、县诊断 — the generated year's exams read remotely: an ECG or an
//! image taken at a township or community centre and read by a reader of the
//! consortium's lead hospital.
//!
//! Which exams a resident gets is decided by the loader from what was already
//! generated (a yearly ECG for each resident managed for hypertension or
//! type 2 diabetes, a chest X-ray for COPD, an abdominal ultrasound in the
//! yearly health check of residents aged 65 and over — the national basic
//! public-health service's elderly check includes both ECG and B-ultrasound).
//! This module decides, deterministically from (seed, key), how each read
//! went: its urgency (routine 90 %, urgent 8 %, emergency 2 %), how long the
//! reader took (log-normal around a quarter of the urgency's limit, so about
//! 4 % of reads finish late), whether the finding is abnormal, and — for a
//! read requested shortly before "now" — which state it is still in.

use chrono::{Duration, NaiveDateTime};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use yilian_domain::remote::{RemoteKind, RemoteState, RemoteUrgency, TurnaroundLimits, due_at};

use crate::rng::{chance, mix64};

/// An exam the generator sends for a remote read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExamItem {
    /// 常规心电图 (recognition catalogue code `ecg`).
    Ecg,
    /// 胸部X线 (`chest_xray`).
    ChestXray,
    /// 腹部超声 (`us_abdomen`).
    AbdominalUltrasound,
}

impl ExamItem {
    /// The recognition catalogue's item code.
    pub fn code(self) -> &'static str {
        match self {
            ExamItem::Ecg => "ecg",
            ExamItem::ChestXray => "chest_xray",
            ExamItem::AbdominalUltrasound => "us_abdomen",
        }
    }

    /// Its name in the record.
    pub fn name_zh(self) -> &'static str {
        match self {
            ExamItem::Ecg => "常规心电图",
            ExamItem::ChestXray => "胸部X线",
            ExamItem::AbdominalUltrasound => "腹部超声",
        }
    }

    /// What is read remotely.
    pub fn remote_kind(self) -> RemoteKind {
        match self {
            ExamItem::Ecg => RemoteKind::Ecg,
            _ => RemoteKind::Imaging,
        }
    }

    fn question(self) -> &'static str {
        match self {
            ExamItem::Ecg => "慢病年度评估，请判读心电图，注意心肌缺血及左室肥厚",
            ExamItem::ChestXray => "慢阻肺随访，请判读胸片，排除感染及占位",
            ExamItem::AbdominalUltrasound => "老年人年度健康体检，请判读腹部超声",
        }
    }

    /// (report, conclusion) for a normal and an abnormal finding.
    fn findings(self, abnormal: bool) -> (&'static str, &'static str) {
        match (self, abnormal) {
            (ExamItem::Ecg, false) => (
                "窦性心律，心率 72 次/分，PR、QRS、QT 间期正常，ST-T 未见异常。",
                "窦性心律，正常心电图",
            ),
            (ExamItem::Ecg, true) => (
                "窦性心律，RV5+SV1 电压增高，V4–V6 导联 ST 段轻度压低。",
                "左心室高电压伴 ST-T 改变，建议心内科随诊",
            ),
            (ExamItem::ChestXray, false) => (
                "双肺纹理增多，未见明确实变及占位，心影不大，膈面光整。",
                "慢支改变，未见急性病变",
            ),
            (ExamItem::ChestXray, true) => (
                "双肺透亮度增高，右下肺见斑片状模糊影。",
                "肺气肿；右下肺炎症可能，建议抗感染后复查",
            ),
            (ExamItem::AbdominalUltrasound, false) => (
                "肝、胆、胰、脾、双肾形态大小正常，回声均匀。",
                "腹部超声未见明显异常",
            ),
            (ExamItem::AbdominalUltrasound, true) => (
                "肝实质回声增强，远场衰减；胆囊内见强回声伴声影。",
                "脂肪肝；胆囊结石",
            ),
        }
    }

    /// Share of abnormal findings among the generated reads.
    fn abnormal_rate(self) -> f64 {
        match self {
            ExamItem::Ecg => 0.22,
            ExamItem::ChestXray => 0.15,
            ExamItem::AbdominalUltrasound => 0.30,
        }
    }
}

/// How one remote read went, as of `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedRead {
    pub item: ExamItem,
    pub urgency: RemoteUrgency,
    pub state: RemoteState,
    pub question: &'static str,
    pub requested_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub claimed_at: Option<NaiveDateTime>,
    pub reported_at: Option<NaiveDateTime>,
    pub signed_at: Option<NaiveDateTime>,
    /// Empty until reported.
    pub report: &'static str,
    pub conclusion: &'static str,
    pub abnormal: bool,
}

/// The read of `item` requested at `requested_at`, drawn from its own stream
/// of (`seed`, `key`); `key` must be unique per read (e.g. a hash of the
/// resident id and the item). Steps that would lie after `now` have not
/// happened yet.
pub fn remote_read(
    seed: u64,
    key: u64,
    item: ExamItem,
    requested_at: NaiveDateTime,
    now: NaiveDateTime,
    limits: &TurnaroundLimits,
) -> GeneratedRead {
    let mut rng = ChaCha8Rng::seed_from_u64(mix64(seed ^ mix64(key ^ 0x5EAD)));
    let u: f64 = rng.random();
    let urgency = if u < 0.02 {
        RemoteUrgency::Emergency
    } else if u < 0.10 {
        RemoteUrgency::Urgent
    } else {
        RemoteUrgency::Routine
    };
    let limit = limits.minutes(urgency).max(1) as f64;
    // Signed after a log-normal time with median a quarter of the limit and
    // σ = 0.8: P(late) = P(Z > ln 4 / 0.8) ≈ 4 %.
    let z = normal(&mut rng);
    let total = (limit / 4.0 * (0.8 * z).exp()).clamp(2.0, limit * 6.0);
    let claim = total * rng.random_range(0.1..0.4);
    let report = total * rng.random_range(0.7..0.95);
    let abnormal = chance(&mut rng, item.abnormal_rate());
    let at = |m: f64| requested_at + Duration::seconds((m * 60.0) as i64);
    let (claimed_at, reported_at, signed_at) = (at(claim), at(report), at(total));
    let happened = |t: NaiveDateTime| (t <= now).then_some(t);
    let (claimed_at, reported_at, signed_at) = (
        happened(claimed_at),
        happened(reported_at),
        happened(signed_at),
    );
    let state = match (claimed_at, reported_at, signed_at) {
        (_, _, Some(_)) => RemoteState::Signed,
        (_, Some(_), None) => RemoteState::Reported,
        (Some(_), None, None) => RemoteState::Claimed,
        _ => RemoteState::Requested,
    };
    let (report, conclusion) = if reported_at.is_some() {
        item.findings(abnormal)
    } else {
        ("", "")
    };
    GeneratedRead {
        item,
        urgency,
        state,
        question: item.question(),
        requested_at,
        due_at: due_at(requested_at, urgency, limits),
        claimed_at,
        reported_at,
        signed_at,
        report,
        conclusion,
        abnormal,
    }
}

/// A standard normal draw (Box–Muller).
fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, d)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("valid")
    }

    #[test]
    fn same_seed_and_key_same_read() {
        let l = TurnaroundLimits::default();
        let a = remote_read(7, 42, ExamItem::Ecg, t(1, 9), t(20, 0), &l);
        let b = remote_read(7, 42, ExamItem::Ecg, t(1, 9), t(20, 0), &l);
        assert_eq!(a, b);
        assert_ne!(a, remote_read(7, 43, ExamItem::Ecg, t(1, 9), t(20, 0), &l));
    }

    #[test]
    fn reads_are_ordered_in_time_and_mostly_on_time() {
        let l = TurnaroundLimits::default();
        let (mut late, mut urgent, n) = (0, 0, 5_000u64);
        for k in 0..n {
            let r = remote_read(1, k, ExamItem::ChestXray, t(1, 9), t(28, 0), &l);
            assert_eq!(r.state, RemoteState::Signed);
            let (c, rep, s) = (
                r.claimed_at.unwrap(),
                r.reported_at.unwrap(),
                r.signed_at.unwrap(),
            );
            assert!(r.requested_at < c && c < rep && rep <= s, "{r:?}");
            assert_eq!(
                r.due_at - r.requested_at,
                Duration::minutes(l.minutes(r.urgency))
            );
            assert!(!r.conclusion.is_empty());
            late += u64::from(s > r.due_at);
            urgent += u64::from(r.urgency != RemoteUrgency::Routine);
        }
        // ≈ 4 % late, ≈ 10 % urgent or emergency.
        assert!((100..=300).contains(&late), "late {late}");
        assert!((400..=600).contains(&urgent), "urgent {urgent}");
    }

    #[test]
    fn a_read_requested_just_now_is_still_open() {
        let l = TurnaroundLimits::default();
        let now = t(1, 9) + Duration::minutes(1);
        let r = remote_read(3, 9, ExamItem::AbdominalUltrasound, t(1, 9), now, &l);
        assert!(r.state.is_open(), "{r:?}");
        assert!(r.signed_at.is_none());
        assert_eq!(r.report, "");
    }
}
