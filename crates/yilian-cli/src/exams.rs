//! The generated year's exams, remote reads and recognition orders, derived
//! from the care already written so they cannot contradict it:
//!
//! - **乡检查、县诊断**: each resident managed for hypertension or type 2
//!   diabetes has a yearly ECG at their township or community centre on the
//!   day of their first follow-up of the year; each COPD patient a chest
//!   X-ray; each resident aged 65 and over an abdominal ultrasound in the
//!   yearly health check. Each exam is read remotely by the centre's lead
//!   county hospital ([`yilian_synth::remote_read`] decides urgency, the
//!   reader's times and the finding); a signed report is filed in the
//!   resident's record at the reader's hospital, with the recognition mark;
//! - **互认**: at each completed upward referral's visit the county hospital
//!   orders an ECG and a fasting glucose (and an HbA1c for residents with one
//!   on record). The recognition rule is the service's own
//!   ([`yilian_server::recognition::check_at`]); where a recognisable result
//!   exists the clinician uses it in about four cases out of five and
//!   otherwise repeats the test for a listed reason, written in the chart.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use yilian_domain::recognition::RepeatReason;
use yilian_server::recognition::{self, Decision};
use yilian_server::referral::stored_time;
use yilian_store::Store;
use yilian_store::generated::{self, ExamCandidate, GeneratedRead};
use yilian_store::records::{NewEntry, insert_entries};
use yilian_synth::{ExamItem, remote_read};

use crate::CliResult;

/// What the derivation wrote.
#[derive(Debug, Default)]
pub struct ExamTotals {
    pub reads: usize,
    pub signed: usize,
    pub late: usize,
    pub open: usize,
    pub orders: usize,
    pub recognized: usize,
    pub repeated: usize,
    pub saved_fen: i64,
}

impl ExamTotals {
    pub fn line(&self) -> String {
        format!(
            "exams: {} remote reads ({} signed, {} signed late, {} still open); {} orders at referral visits: \
             {} recognised (saved {} yuan), {} repeated with a reason",
            self.reads,
            self.signed,
            self.late,
            self.open,
            self.orders,
            self.recognized,
            yilian_domain::money::yuan(self.saved_fen),
            self.repeated
        )
    }
}

/// Share (in 1/100) of recognisable results the generated clinicians use.
const USE_PERCENT: u64 = 80;

/// The reasons generated repeats give, in rotation.
const REPEAT_REASONS: [RepeatReason; 4] = [
    RepeatReason::ConditionChanged,
    RepeatReason::PatientRequest,
    RepeatReason::PhysicianJudgement,
    RepeatReason::PreSurgeryOrTransfusion,
];

pub async fn derive(
    store: &Store,
    seed: u64,
    today: NaiveDate,
    now: NaiveDateTime,
) -> CliResult<ExamTotals> {
    let mut t = ExamTotals::default();
    let limits = yilian_server::remote::load_limits();
    let mut tx = store.write().await?;
    let mut plan: Vec<(ExamCandidate, ExamItem, NaiveDateTime)> = Vec::new();
    let at = |date: &str, h: u32, key: u64| -> Option<NaiveDateTime> {
        let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
        d.and_hms_opt(h, (key % 60) as u32, 0)
    };
    for c in generated::followed_up_in(&mut tx, &["hypertension", "diabetes_t2"]).await? {
        if let Some(when) = at(&c.date, 10, c.resident_id as u64) {
            plan.push((c, ExamItem::Ecg, when));
        }
    }
    for c in generated::followed_up_in(&mut tx, &["copd"]).await? {
        if let Some(when) = at(&c.date, 11, c.resident_id as u64) {
            plan.push((c, ExamItem::ChestXray, when));
        }
    }
    let born_by = today - Duration::days(65 * 365 + 16);
    for c in generated::born_by(&mut tx, &born_by.to_string()).await? {
        let day = today - Duration::days((mix(seed, c.resident_id as u64) % 365) as i64);
        if let Some(when) = at(&day.to_string(), 14, c.resident_id as u64) {
            plan.push((c, ExamItem::AbdominalUltrasound, when));
        }
    }
    plan.retain(|(_, _, when)| *when <= now);
    let reads: Vec<(ExamCandidate, yilian_synth::GeneratedRead)> = plan
        .into_iter()
        .map(|(c, item, when)| {
            let key = (c.resident_id as u64) << 2 | item as u64;
            let r = remote_read(seed, key, item, when, now, &limits);
            (c, r)
        })
        .collect();
    let rows: Vec<GeneratedRead> = reads
        .iter()
        .map(|(c, r)| GeneratedRead {
            resident_id: c.resident_id,
            kind: r.item.remote_kind().as_str().into(),
            urgency: r.urgency.as_str().into(),
            urgency_rank: r.urgency.rank(),
            from_institution_id: c.centre,
            to_institution_id: c.lead,
            question: r.question.into(),
            file_ref: format!("PACS:{}/{}/{}", c.centre, r.item.code(), c.resident_id),
            state: r.state.as_str().into(),
            claimed_at: r.claimed_at.map(stored_time),
            report: r.report.into(),
            conclusion: r.conclusion.into(),
            reported_at: r.reported_at.map(stored_time),
            signed_at: r.signed_at.map(stored_time),
            requested_at: stored_time(r.requested_at),
            due_at: stored_time(r.due_at),
        })
        .collect();
    let ids = generated::insert_reads(&mut tx, &rows).await?;
    let mut entries = Vec::new();
    for ((c, r), id) in reads.iter().zip(&ids) {
        t.reads += 1;
        let Some(signed) = r.signed_at else {
            t.open += 1;
            continue;
        };
        t.signed += 1;
        t.late += usize::from(signed > r.due_at);
        entries.push(NewEntry {
            resident_id: c.resident_id,
            institution_id: c.lead,
            kind: "exam".into(),
            occurred_at: stored_time(r.requested_at),
            code: r.item.code().into(),
            title: format!("{}报告：{}", r.item.name_zh(), r.conclusion),
            value: r.conclusion.into(),
            abnormal: r.abnormal,
            hr_mark: true,
            body: format!(
                "临床问题：{}\n\n报告：{}\n\n结论：{}\n\n远程{}，签发于 {}",
                r.question,
                r.report,
                r.conclusion,
                r.item.remote_kind().label_zh(),
                stored_time(signed)
            ),
            source: "remote_read".into(),
            source_id: Some(*id),
            ..Default::default()
        });
    }
    insert_entries(&mut tx, &entries).await?;
    generated::link_read_reports(&mut tx).await?;
    tx.commit().await?;

    // Recognition at the county hospital's visits, in time order, one
    // transaction per thousand visits.
    let catalog = recognition::load_catalog();
    let visits = {
        let mut c = store.read().await?;
        generated::upward_visits(&mut c).await?
    };
    for chunk in visits.chunks(1_000) {
        let mut tx = store.write().await?;
        for v in chunk {
            let Some(when) = cst(&v.starts_at) else {
                continue;
            };
            let items: &[&str] = if v.has_hba1c != 0 {
                &["ecg", "fasting_glucose", "hba1c"]
            } else {
                &["ecg", "fasting_glucose"]
            };
            for code in items {
                let Some(item) = catalog.item(code) else {
                    continue;
                };
                let view = recognition::check_at(
                    &mut tx,
                    &catalog,
                    v.institution_id,
                    v.resident_id,
                    code,
                    when,
                    "referral",
                )
                .await
                .map_err(crate::csvio::api_msg)?;
                let roll = mix(
                    seed ^ 0x0DE5,
                    (v.referral_id as u64) << 3 | code.len() as u64,
                );
                let decision = match &view.recognized {
                    Some(offered) if roll % 100 < USE_PERCENT => Decision {
                        use_result_id: Some(offered.entry_id),
                        reason: None,
                        text: "",
                    },
                    Some(_) => Decision {
                        use_result_id: None,
                        reason: Some(REPEAT_REASONS[(roll / 100 % 4) as usize]),
                        text: "",
                    },
                    None => Decision {
                        use_result_id: None,
                        reason: None,
                        text: "",
                    },
                };
                let order = recognition::decide(item, &view, None, &decision)
                    .map_err(crate::csvio::api_msg)?;
                recognition::store_order(&mut tx, &order, item, &decision, &view)
                    .await
                    .map_err(crate::csvio::api_msg)?;
                t.orders += 1;
                match order.outcome.as_str() {
                    recognition::RECOGNIZED => {
                        t.recognized += 1;
                        t.saved_fen += order.saved_fen;
                    }
                    recognition::REPEATED => t.repeated += 1,
                    _ => {}
                }
            }
        }
        tx.commit().await?;
    }
    Ok(t)
}

/// A stored China Standard Time.
fn cst(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
}

/// A deterministic hash of (seed, key).
fn mix(seed: u64, key: u64) -> u64 {
    let mut z = seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
