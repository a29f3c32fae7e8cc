//! 监测预警 — public-health surveillance inputs and the signal workflow.
//!
//! Sources:
//! - seed 002 (`seeds/002_b8433663c3f0f039.txt`, 第四章第二节, line 443):
//!   "强化医疗机构发热门诊、药店等哨点作用 … 健全网络直报、医疗机构报告 …
//!   等多渠道信息综合监测体系,建立完善新发未知传染病多点触发预警机制" —
//!   hence the channels below (sentinel outpatient and fever clinics,
//!   notifiable-disease reports, pharmacies, schools) and multi-point
//!   triggering (`yilian_analytics::surveillance::multipoint`);
//! - SPEC §2.8: daily counts per township and channel; signals raised →
//!   under verification → confirmed | dismissed; a confirmed signal becomes
//!   an event.
//!
//! The algorithms live in `yilian_analytics::surveillance`; this module
//! holds the vocabularies, the validation of an input row and the workflow.

use chrono::NaiveDate;

use crate::error::Explain;

crate::vocabulary!(
    /// 监测渠道 — where a count comes from.
    Channel {
        Outpatient = "outpatient": "门诊症状监测",
        FeverClinic = "fever_clinic": "发热门诊",
        CaseReport = "case_report": "法定传染病报告",
        Pharmacy = "pharmacy": "药店哨点",
        SchoolAbsence = "school_absence": "学校因病缺课",
    }
);

crate::vocabulary!(
    /// 症状群 — syndromes counted at sentinel outpatient and fever clinics.
    Syndrome {
        Fever = "fever": "发热",
        Respiratory = "respiratory": "呼吸道症状",
        Ili = "ili": "流感样病例",
        Diarrhea = "diarrhea": "腹泻",
        Rash = "rash": "皮疹",
        Hfmd = "hfmd": "手足口症状",
        Jaundice = "jaundice": "黄疸",
    }
);

crate::vocabulary!(
    /// 法定传染病 — the notifiable diseases reported (网络直报) that yilian
    /// watches (a county's list is longer; these carry most outbreaks).
    Disease {
        Influenza = "influenza": "流行性感冒",
        Hfmd = "hfmd": "手足口病",
        InfectiousDiarrhea = "infectious_diarrhea": "其他感染性腹泻病",
        BacillaryDysentery = "bacillary_dysentery": "细菌性痢疾",
        Chickenpox = "chickenpox": "水痘",
        Mumps = "mumps": "流行性腮腺炎",
        ScarletFever = "scarlet_fever": "猩红热",
        HepatitisA = "hepatitis_a": "甲型病毒性肝炎",
        Measles = "measles": "麻疹",
    }
);

crate::vocabulary!(
    /// 哨点药品 — sentinel drug classes sold by pharmacies.
    SentinelDrug {
        Antipyretic = "antipyretic": "退热药",
        Antidiarrheal = "antidiarrheal": "止泻药",
        Cough = "cough": "止咳药",
    }
);

crate::vocabulary!(
    /// 缺课原因 — school absenteeism with symptoms.
    AbsenceReason {
        Fever = "fever": "发热",
        Gastrointestinal = "gastrointestinal": "胃肠道症状",
        Rash = "rash": "皮疹",
    }
);

impl Channel {
    /// The codes a count of this channel may carry.
    pub fn codes(self) -> Vec<&'static str> {
        match self {
            Channel::Outpatient => Syndrome::ALL.iter().map(|s| s.as_str()).collect(),
            Channel::FeverClinic => [Syndrome::Fever, Syndrome::Respiratory, Syndrome::Ili]
                .iter()
                .map(|s| s.as_str())
                .collect(),
            Channel::CaseReport => Disease::ALL.iter().map(|s| s.as_str()).collect(),
            Channel::Pharmacy => SentinelDrug::ALL.iter().map(|s| s.as_str()).collect(),
            Channel::SchoolAbsence => AbsenceReason::ALL.iter().map(|s| s.as_str()).collect(),
        }
    }

    /// The Chinese label of one of its codes.
    pub fn code_label(self, code: &str) -> Option<&'static str> {
        match self {
            Channel::Outpatient | Channel::FeverClinic => Syndrome::parse(code)
                .filter(|_| self.codes().contains(&code))
                .map(|s| s.label_zh()),
            Channel::CaseReport => Disease::parse(code).map(|d| d.label_zh()),
            Channel::Pharmacy => SentinelDrug::parse(code).map(|d| d.label_zh()),
            Channel::SchoolAbsence => AbsenceReason::parse(code).map(|r| r.label_zh()),
        }
    }
}

/// The largest daily count accepted for one township, channel and code (a
/// sanity bound against unit errors; a real day is far below it).
pub const MAX_DAILY_COUNT: i64 = 100_000;

/// An input row refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SurveillanceError {
    #[error("count {count} is outside 0..={MAX_DAILY_COUNT}")]
    InvalidCount { count: i64 },
    #[error("date {date} is in the future (today is {today})")]
    FutureDate { date: NaiveDate, today: NaiveDate },
    #[error("unknown channel {channel}")]
    UnknownChannel { channel: String },
    #[error("code {code} is not a code of channel {channel}")]
    UnknownCode { channel: String, code: String },
    #[error("illegal signal transition {from} → {to}")]
    IllegalTransition { from: String, to: String },
}

impl Explain for SurveillanceError {
    fn code(&self) -> &'static str {
        match self {
            SurveillanceError::InvalidCount { .. } => "invalid_count",
            SurveillanceError::FutureDate { .. } => "future_date",
            SurveillanceError::UnknownChannel { .. } => "unknown_channel",
            SurveillanceError::UnknownCode { .. } => "unknown_code",
            SurveillanceError::IllegalTransition { .. } => "illegal_transition",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            SurveillanceError::InvalidCount { count } => {
                format!("计数 {count} 无效：须为 0 至 {MAX_DAILY_COUNT} 的整数")
            }
            SurveillanceError::FutureDate { date, today } => {
                format!("日期 {date} 晚于今天（{today}）")
            }
            SurveillanceError::UnknownChannel { channel } => format!("未知监测渠道：{channel}"),
            SurveillanceError::UnknownCode { channel, code } => {
                format!("监测渠道 {channel} 没有编码 {code}")
            }
            SurveillanceError::IllegalTransition { from, to } => {
                format!("信号不能从“{from}”转为“{to}”")
            }
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A daily count as submitted, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountInput<'a> {
    pub date: NaiveDate,
    pub channel: &'a str,
    pub code: &'a str,
    pub count: i64,
}

/// 计数校验 — a count is a whole number in `0..=MAX_DAILY_COUNT`, on a day
/// not after `today`, for a known channel and one of its codes. (The
/// township is checked against the registry by the caller.)
pub fn check_count(c: &CountInput<'_>, today: NaiveDate) -> Result<Channel, SurveillanceError> {
    if !(0..=MAX_DAILY_COUNT).contains(&c.count) {
        return Err(SurveillanceError::InvalidCount { count: c.count });
    }
    if c.date > today {
        return Err(SurveillanceError::FutureDate {
            date: c.date,
            today,
        });
    }
    let channel = Channel::parse(c.channel).ok_or_else(|| SurveillanceError::UnknownChannel {
        channel: c.channel.to_string(),
    })?;
    if !channel.codes().contains(&c.code) {
        return Err(SurveillanceError::UnknownCode {
            channel: c.channel.to_string(),
            code: c.code.to_string(),
        });
    }
    Ok(channel)
}

crate::vocabulary!(
    /// 信号状态 — raised → under verification → confirmed | dismissed.
    SignalState {
        Raised = "raised": "待核实",
        Verifying = "verifying": "核实中",
        Confirmed = "confirmed": "已确认",
        Dismissed = "dismissed": "已排除",
    }
);

/// 信号处置 — the allowed moves: a raised signal is taken up for
/// verification (or dismissed at once as an obvious artefact); a signal under
/// verification is confirmed (it becomes an event) or dismissed. Confirmed
/// and dismissed are final.
pub fn signal_transition(from: SignalState, to: SignalState) -> Result<(), SurveillanceError> {
    use SignalState::*;
    match (from, to) {
        (Raised, Verifying)
        | (Raised, Dismissed)
        | (Verifying, Confirmed)
        | (Verifying, Dismissed) => Ok(()),
        _ => Err(SurveillanceError::IllegalTransition {
            from: from.label_zh().into(),
            to: to.label_zh().into(),
        }),
    }
}

/// The moving percentile method's default threshold: CIDARS uses per-disease
/// percentiles between P50 and P90, P80 for most (Yang et al. 2011).
pub const DEFAULT_PERCENTILE: f64 = 80.0;

/// 分病种阈值 — the percentile threshold of a series: chickenpox P65, the
/// tuned threshold reported for CIDARS (93.3 % sensitivity, no false alarm,
/// 0-day delay); [`DEFAULT_PERCENTILE`] otherwise. A county tunes these with
/// `yilian surveil evaluate`.
pub fn percentile_for(code: &str) -> f64 {
    match code {
        "chickenpox" => 65.0,
        _ => DEFAULT_PERCENTILE,
    }
}

/// Years of history the moving percentile method compares with (CIDARS: the
/// same period of the previous years; five when available).
pub const PERCENTILE_YEARS: u32 = 5;

/// 多点触发 — channels that must agree in a place (itself or a neighbouring
/// township) within [`MULTIPOINT_WINDOW_DAYS`] for a multi-point signal.
pub const MULTIPOINT_MIN_CHANNELS: usize = 2;
/// The window of multi-point agreement, in days.
pub const MULTIPOINT_WINDOW_DAYS: usize = 3;

/// CIDARS's reported median time from signal to response (about one hour,
/// Yang et al. 2011): the response clock's target, in minutes.
pub const RESPONSE_TARGET_MINUTES: i64 = 60;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn counts_are_whole_known_and_not_in_the_future() {
        let today = d("2026-11-22");
        let ok = |date: &str, channel: &str, code: &str, count: i64| {
            check_count(
                &CountInput {
                    date: d(date),
                    channel,
                    code,
                    count,
                },
                today,
            )
        };
        assert_eq!(
            ok("2026-11-22", "outpatient", "ili", 0),
            Ok(Channel::Outpatient)
        );
        assert_eq!(
            ok("2026-11-22", "case_report", "hfmd", MAX_DAILY_COUNT),
            Ok(Channel::CaseReport)
        );
        let code = |r: Result<Channel, SurveillanceError>| r.unwrap_err().code();
        assert_eq!(
            code(ok("2026-11-22", "outpatient", "ili", -1)),
            "invalid_count"
        );
        assert_eq!(
            code(ok("2026-11-22", "outpatient", "ili", MAX_DAILY_COUNT + 1)),
            "invalid_count"
        );
        assert_eq!(
            code(ok("2026-11-23", "outpatient", "ili", 1)),
            "future_date"
        );
        assert_eq!(code(ok("2026-11-22", "radio", "ili", 1)), "unknown_channel");
        // hfmd is a syndrome of outpatient clinics but not of fever clinics.
        assert_eq!(
            code(ok("2026-11-22", "fever_clinic", "hfmd", 1)),
            "unknown_code"
        );
        assert_eq!(
            code(ok("2026-11-22", "pharmacy", "measles", 1)),
            "unknown_code"
        );
    }

    #[test]
    fn the_workflow_moves_forward_only() {
        use SignalState::*;
        for (from, to, ok) in [
            (Raised, Verifying, true),
            (Raised, Dismissed, true),
            (Verifying, Confirmed, true),
            (Verifying, Dismissed, true),
            (Raised, Confirmed, false),
            (Confirmed, Dismissed, false),
            (Dismissed, Verifying, false),
            (Verifying, Raised, false),
        ] {
            assert_eq!(signal_transition(from, to).is_ok(), ok, "{from:?} → {to:?}");
        }
    }

    #[test]
    fn every_channel_labels_its_codes() {
        for c in Channel::ALL {
            assert!(!c.codes().is_empty());
            for code in c.codes() {
                assert!(c.code_label(code).is_some(), "{c:?} {code}");
            }
        }
    }
}
