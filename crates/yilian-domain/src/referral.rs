//! 双向转诊 — two-way referral: the state machine, who may move it, the rule
//! checks run at submission (returned as explained findings), response time
//! limits, inbox priority, and the hypertension guideline's triggers.
//!
//! Sources: seed 001 art. 10 and 29–32 (基层首诊、双向转诊; "1+1+1"); seed 004
//! §三(一)(二) (priority for contracted residents; 慢病联合诊室); seed 000
//! §(二)1–4; 国家基层高血压防治管理指南 (2020) for referral triggers.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::error::Explain;

crate::vocabulary!(
    /// 转诊方向 — direction.
    Direction {
        Up = "up": "上转",
        Down = "down": "下转",
        Lateral = "lateral": "平转",
    }
);

crate::vocabulary!(
    /// 紧急程度 — urgency; the green channel covers the five emergency centres.
    Urgency {
        Routine = "routine": "普通",
        Urgent = "urgent": "加急",
        Emergency = "emergency": "急诊绿色通道",
    }
);

crate::vocabulary!(
    /// 绿色通道类别 — which emergency centre a green-channel referral needs.
    GreenChannel {
        ChestPain = "chest_pain": "胸痛",
        Stroke = "stroke": "卒中",
        Trauma = "trauma": "创伤",
        CriticalMaternal = "critical_maternal": "危重孕产妇",
        CriticalNeonatal = "critical_neonatal": "危重儿童和新生儿",
    }
);

impl GreenChannel {
    /// The institution service (`registry::Service` code) that receives it.
    pub fn service(self) -> &'static str {
        match self {
            GreenChannel::ChestPain => "chest_pain_center",
            GreenChannel::Stroke => "stroke_center",
            GreenChannel::Trauma => "trauma_center",
            GreenChannel::CriticalMaternal => "critical_maternal_center",
            GreenChannel::CriticalNeonatal => "critical_neonatal_center",
        }
    }
}

crate::vocabulary!(
    /// 转诊状态 — referral state.
    ReferralState {
        Draft = "draft": "草稿",
        Submitted = "submitted": "已提交",
        Accepted = "accepted": "已接收",
        Declined = "declined": "已拒绝",
        Scheduled = "scheduled": "已预约",
        Arrived = "arrived": "已到诊",
        Completed = "completed": "已完成",
        Cancelled = "cancelled": "已取消",
        Expired = "expired": "已过期",
    }
);

impl ReferralState {
    /// Open states can still be cancelled or expire.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            ReferralState::Declined
                | ReferralState::Completed
                | ReferralState::Cancelled
                | ReferralState::Expired
        )
    }
}

crate::vocabulary!(
    /// 转诊事件 — what can happen to a referral.
    ReferralEvent {
        Submit = "submit": "提交",
        Accept = "accept": "接收",
        Decline = "decline": "拒绝",
        Schedule = "schedule": "预约",
        Arrive = "arrive": "到诊",
        Complete = "complete": "完成",
        Cancel = "cancel": "取消",
        Expire = "expire": "过期",
    }
);

/// Which side of the referral an actor is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Clinicians of the referring institution.
    Referring,
    /// The referral desk / clinicians of the receiving institution.
    Receiving,
    /// The platform (time limits).
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferralError {
    #[error("cannot {event} a referral that is {from}")]
    IllegalTransition {
        from: ReferralState,
        event: ReferralEvent,
    },
    #[error("the {side:?} side may not {event} a referral")]
    NotAllowed { side: Side, event: ReferralEvent },
    #[error("{en}")]
    JustificationRequired { zh: String, en: String },
    #[error("{en}")]
    ServiceNotAvailable { zh: String, en: String },
}

impl Explain for ReferralError {
    fn code(&self) -> &'static str {
        match self {
            ReferralError::IllegalTransition { .. } => "illegal_transition",
            ReferralError::NotAllowed { .. } => "forbidden",
            ReferralError::JustificationRequired { .. } => "justification_required",
            ReferralError::ServiceNotAvailable { .. } => "service_not_available",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            ReferralError::IllegalTransition { from, event } => format!(
                "{}状态的转诊不能执行“{}”",
                from.label_zh(),
                event.label_zh()
            ),
            ReferralError::NotAllowed { event, .. } => {
                format!("您所在的一方不能对该转诊执行“{}”", event.label_zh())
            }
            ReferralError::JustificationRequired { zh, .. }
            | ReferralError::ServiceNotAvailable { zh, .. } => zh.clone(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// 转诊状态机 — the only way a referral's state changes: draft → submitted →
/// accepted | declined → scheduled → arrived → completed; cancelled or expired
/// from any open state. The referring side submits and cancels; the receiving
/// side accepts, declines, schedules, records arrival and completes; only the
/// platform expires.
pub fn transition(
    from: ReferralState,
    event: ReferralEvent,
    side: Side,
) -> Result<ReferralState, ReferralError> {
    use ReferralEvent as E;
    use ReferralState as S;
    let allowed_side = match event {
        E::Submit | E::Cancel => Side::Referring,
        E::Accept | E::Decline | E::Schedule | E::Arrive | E::Complete => Side::Receiving,
        E::Expire => Side::System,
    };
    let to = match (from, event) {
        (S::Draft, E::Submit) => S::Submitted,
        (S::Submitted, E::Accept) => S::Accepted,
        (S::Submitted, E::Decline) => S::Declined,
        (S::Accepted, E::Schedule) => S::Scheduled,
        (S::Scheduled, E::Arrive) => S::Arrived,
        (S::Arrived, E::Complete) => S::Completed,
        (s, E::Cancel) if s.is_open() => S::Cancelled,
        (s, E::Expire) if s.is_open() && s != S::Arrived => S::Expired,
        (from, event) => return Err(ReferralError::IllegalTransition { from, event }),
    };
    if side != allowed_side {
        return Err(ReferralError::NotAllowed { side, event });
    }
    Ok(to)
}

/// 响应时限 — how long the receiving side has to accept or decline, by
/// urgency. A county configures these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseLimits {
    pub emergency_minutes: i64,
    pub urgent_minutes: i64,
    pub routine_minutes: i64,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            emergency_minutes: 30,
            urgent_minutes: 24 * 60,
            routine_minutes: 72 * 60,
        }
    }
}

/// The deadline for a response to a referral submitted at `submitted`.
pub fn response_deadline(
    submitted: NaiveDateTime,
    urgency: Urgency,
    l: &ResponseLimits,
) -> NaiveDateTime {
    let minutes = match urgency {
        Urgency::Emergency => l.emergency_minutes,
        Urgency::Urgent => l.urgent_minutes,
        Urgency::Routine => l.routine_minutes,
    };
    submitted + Duration::minutes(minutes)
}

/// 优先顺序 — inbox order: emergency first, then contracted residents, then
/// others; within a class, the earliest deadline first. Smaller sorts first.
pub fn priority_rank(urgency: Urgency, contracted: bool) -> u8 {
    match (urgency, contracted) {
        (Urgency::Emergency, _) => 0,
        (Urgency::Urgent, true) => 1,
        (Urgency::Urgent, false) => 2,
        (Urgency::Routine, true) => 3,
        (Urgency::Routine, false) => 4,
    }
}

/// What the submission rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReferralFacts {
    pub direction: Option<Direction>,
    pub urgency: Option<Urgency>,
    pub green_channel: Option<GreenChannel>,
    /// The receiving institution offers the green channel's centre.
    pub to_has_centre: bool,
    /// The condition is on the first-contact (基层首诊) list: its name.
    pub first_contact: Option<String>,
    /// The condition is on the do-not-refer-up (基层一般不得上转) list.
    pub no_refer_up: Option<String>,
    /// Both institutions are members of one consortium.
    pub same_consortium: bool,
    /// The resident has a contract naming a "1+1+1" combination, and the
    /// receiving hospital is outside it.
    pub outside_combination: bool,
    /// The referring clinician belongs to the resident's family-doctor team's
    /// institution (a family-doctor referral).
    pub by_family_doctor: bool,
    /// For downward referrals: a discharge summary and a follow-up plan.
    pub has_discharge_summary: bool,
    pub has_follow_up_plan: bool,
    pub justification: Option<String>,
}

/// One explained rule outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    /// `block` refuses submission; `info` is shown and recorded.
    pub severity: String,
    pub message_zh: String,
    pub message_en: String,
}

fn finding(rule: &'static str, block: bool, zh: String, en: String) -> Finding {
    Finding {
        rule: rule.into(),
        severity: if block { "block" } else { "info" }.into(),
        message_zh: zh,
        message_en: en,
    }
}

/// 转诊规则核查 — every rule's finding for a referral about to be submitted.
/// A rule that needs a justification blocks only when none is given.
pub fn check_referral(f: &ReferralFacts) -> Vec<Finding> {
    let justified = f
        .justification
        .as_deref()
        .is_some_and(|j| j.trim().chars().count() >= 4);
    let up = f.direction == Some(Direction::Up);
    let mut out = Vec::new();
    if let Some(c) = f
        .green_channel
        .filter(|_| f.urgency == Some(Urgency::Emergency))
    {
        out.push(finding(
            "green_channel_centre",
            !f.to_has_centre,
            format!(
                "急诊绿色通道（{}）须转往具备{}的机构",
                c.label_zh(),
                c.label_zh()
            ),
            format!(
                "a {} green-channel referral needs a receiving {} centre",
                c.as_str(),
                c.as_str()
            ),
        ));
    }
    if up {
        if let Some(name) = &f.no_refer_up {
            out.push(finding(
                "no_refer_up",
                !justified,
                format!("“{name}”属于基层一般不得上转病种，上转须说明理由"),
                format!("{name} is on the do-not-refer-up list: up-referral needs a justification"),
            ));
        }
        if let Some(name) = &f.first_contact {
            out.push(finding(
                "first_contact",
                !justified,
                format!("“{name}”属于基层首诊病种，上转须说明理由"),
                format!("{name} is on the first-contact list: up-referral needs a justification"),
            ));
        }
    }
    if !f.same_consortium && f.urgency != Some(Urgency::Emergency) {
        out.push(finding(
            "in_consortium",
            !justified,
            "医联体内转诊为默认路径，转往医联体外机构须说明理由".into(),
            "in-consortium referral is the default route; outside needs a justification".into(),
        ));
    }
    if f.outside_combination && !f.by_family_doctor {
        out.push(finding(
            "one_plus_one_plus_one",
            !justified,
            "接收医院不在居民“1+1+1”签约组合内，须由家庭医生转诊或说明理由".into(),
            "the hospital is outside the resident's 1+1+1 combination: a family-doctor referral or a justification is needed".into(),
        ));
    }
    if f.direction == Some(Direction::Down) {
        let ready = f.has_discharge_summary && f.has_follow_up_plan;
        out.push(finding(
            "downward_handover",
            !ready,
            "下转须附出院小结和随访计划（诊断明确、方案确定、病情稳定）".into(),
            "a downward referral carries the discharge summary and a follow-up plan (diagnosis clear, plan set, stable)".into(),
        ));
    }
    out
}

/// The first blocking finding as an error (its rule decides the code).
pub fn first_block(findings: &[Finding]) -> Result<(), ReferralError> {
    match findings.iter().find(|f| f.severity == "block") {
        Some(f) if f.rule == "green_channel_centre" => Err(ReferralError::ServiceNotAvailable {
            zh: f.message_zh.clone(),
            en: f.message_en.clone(),
        }),
        Some(f) => Err(ReferralError::JustificationRequired {
            zh: f.message_zh.clone(),
            en: f.message_en.clone(),
        }),
        None => Ok(()),
    }
}

/// A referral proposed from data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// BP ≥ 180/110 with symptoms: emergency up-referral.
    EmergencyUp,
    /// Not at target after 2–3 months of regular treatment: routine up-referral.
    RoutineUp,
}

/// 高血压转诊触发 — from the primary-care hypertension guideline: emergency
/// up-referral for SBP ≥ 180 or DBP ≥ 110 with symptoms; routine up-referral
/// when BP has stayed above target after at least 2 months of regular
/// treatment (`months_uncontrolled_on_treatment`).
pub fn hypertension_trigger(
    sbp: u16,
    dbp: u16,
    symptoms: bool,
    months_uncontrolled_on_treatment: u32,
) -> Option<Trigger> {
    if (sbp >= 180 || dbp >= 110) && symptoms {
        Some(Trigger::EmergencyUp)
    } else if months_uncontrolled_on_treatment >= 2 {
        Some(Trigger::RoutineUp)
    } else {
        None
    }
}

/// The referring side follows up within 2 weeks of an up-referral.
pub const FOLLOW_UP_AFTER_REFERRAL_DAYS: i64 = 14;

/// 预约号源 — whether a slot can be booked by this request now. Reserved
/// slots (referral quota) are for referrals from primary institutions until
/// `release_hours` before the slot starts; then anyone may book them.
pub fn slot_bookable(
    reserved_for_referral: bool,
    by_referral: bool,
    slot_start: NaiveDateTime,
    now: NaiveDateTime,
    release_hours: i64,
) -> bool {
    if now >= slot_start {
        return false;
    }
    !reserved_for_referral || by_referral || now >= slot_start - Duration::hours(release_hours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn state_machine_every_state_and_event() {
        use ReferralEvent as E;
        use ReferralState as S;
        for from in S::ALL {
            for event in E::ALL {
                let expected = match (from, event) {
                    (S::Draft, E::Submit) => Some(S::Submitted),
                    (S::Submitted, E::Accept) => Some(S::Accepted),
                    (S::Submitted, E::Decline) => Some(S::Declined),
                    (S::Accepted, E::Schedule) => Some(S::Scheduled),
                    (S::Scheduled, E::Arrive) => Some(S::Arrived),
                    (S::Arrived, E::Complete) => Some(S::Completed),
                    (
                        S::Draft | S::Submitted | S::Accepted | S::Scheduled | S::Arrived,
                        E::Cancel,
                    ) => Some(S::Cancelled),
                    (S::Draft | S::Submitted | S::Accepted | S::Scheduled, E::Expire) => {
                        Some(S::Expired)
                    }
                    _ => None,
                };
                let side = match event {
                    E::Submit | E::Cancel => Side::Referring,
                    E::Expire => Side::System,
                    _ => Side::Receiving,
                };
                let got = transition(*from, *event, side);
                assert_eq!(got.clone().ok(), expected, "{from:?} × {event:?}");
                if let Err(e) = got {
                    assert_eq!(e.code(), "illegal_transition");
                }
            }
        }
    }

    #[test]
    fn only_the_allowed_side_moves_a_referral() {
        assert!(matches!(
            transition(
                ReferralState::Submitted,
                ReferralEvent::Accept,
                Side::Referring
            ),
            Err(ReferralError::NotAllowed { .. })
        ));
        assert!(transition(ReferralState::Draft, ReferralEvent::Submit, Side::Receiving).is_err());
        assert!(
            transition(
                ReferralState::Submitted,
                ReferralEvent::Expire,
                Side::Receiving
            )
            .is_err()
        );
    }

    #[test]
    fn deadlines_and_priority() {
        let l = ResponseLimits::default();
        assert_eq!(response_deadline(t(8, 0), Urgency::Emergency, &l), t(8, 30));
        assert_eq!(
            response_deadline(t(8, 0), Urgency::Urgent, &l),
            t(8, 0) + Duration::hours(24)
        );
        let mut v = [
            (Urgency::Routine, false),
            (Urgency::Routine, true),
            (Urgency::Emergency, false),
            (Urgency::Urgent, false),
        ];
        v.sort_by_key(|(u, c)| priority_rank(*u, *c));
        assert_eq!(
            v,
            [
                (Urgency::Emergency, false),
                (Urgency::Urgent, false),
                (Urgency::Routine, true),
                (Urgency::Routine, false)
            ]
        );
    }

    fn up(name: &str) -> ReferralFacts {
        ReferralFacts {
            direction: Some(Direction::Up),
            urgency: Some(Urgency::Routine),
            no_refer_up: Some(name.into()),
            same_consortium: true,
            ..Default::default()
        }
    }

    #[test]
    fn listed_conditions_need_a_justification_to_go_up() {
        let f = up("急性上呼吸道感染");
        let e = first_block(&check_referral(&f)).unwrap_err();
        assert_eq!(e.code(), "justification_required");
        let justified = ReferralFacts {
            justification: Some("高热不退三天，基层处理无效".into()),
            ..f
        };
        assert!(first_block(&check_referral(&justified)).is_ok());
        assert_eq!(
            check_referral(&justified)[0].severity,
            "info",
            "still shown, not silent"
        );
        let down = ReferralFacts {
            direction: Some(Direction::Down),
            has_discharge_summary: true,
            has_follow_up_plan: true,
            ..up("x")
        };
        assert!(
            first_block(&check_referral(&down)).is_ok(),
            "lists apply to up-referrals only"
        );
    }

    #[test]
    fn outside_the_consortium_or_combination_needs_justification() {
        let f = ReferralFacts {
            direction: Some(Direction::Up),
            urgency: Some(Urgency::Routine),
            ..Default::default()
        };
        assert_eq!(
            first_block(&check_referral(&f)).unwrap_err().code(),
            "justification_required"
        );
        let inside = ReferralFacts {
            same_consortium: true,
            ..f.clone()
        };
        assert!(first_block(&check_referral(&inside)).is_ok());
        let combo = ReferralFacts {
            outside_combination: true,
            ..inside.clone()
        };
        assert!(first_block(&check_referral(&combo)).is_err());
        let by_gp = ReferralFacts {
            by_family_doctor: true,
            ..combo
        };
        assert!(first_block(&check_referral(&by_gp)).is_ok());
        let emergency = ReferralFacts {
            urgency: Some(Urgency::Emergency),
            ..f
        };
        assert!(
            first_block(&check_referral(&emergency)).is_ok(),
            "emergencies go to the nearest capable centre"
        );
    }

    #[test]
    fn green_channel_needs_the_centre_and_downward_needs_the_handover() {
        let f = ReferralFacts {
            direction: Some(Direction::Up),
            urgency: Some(Urgency::Emergency),
            green_channel: Some(GreenChannel::Stroke),
            same_consortium: true,
            ..Default::default()
        };
        assert_eq!(
            first_block(&check_referral(&f)).unwrap_err().code(),
            "service_not_available"
        );
        assert!(
            first_block(&check_referral(&ReferralFacts {
                to_has_centre: true,
                ..f
            }))
            .is_ok()
        );
        let down = ReferralFacts {
            direction: Some(Direction::Down),
            same_consortium: true,
            has_discharge_summary: true,
            ..Default::default()
        };
        assert!(first_block(&check_referral(&down)).is_err());
    }

    #[test]
    fn hypertension_triggers_at_their_thresholds() {
        assert_eq!(
            hypertension_trigger(180, 100, true, 0),
            Some(Trigger::EmergencyUp)
        );
        assert_eq!(
            hypertension_trigger(150, 110, true, 0),
            Some(Trigger::EmergencyUp)
        );
        assert_eq!(hypertension_trigger(179, 109, true, 0), None);
        assert_eq!(
            hypertension_trigger(185, 112, false, 0),
            None,
            "without symptoms it is not an emergency"
        );
        assert_eq!(
            hypertension_trigger(150, 95, false, 2),
            Some(Trigger::RoutineUp)
        );
        assert_eq!(hypertension_trigger(150, 95, false, 1), None);
    }

    #[test]
    fn reserved_slots_release_to_the_public() {
        let start = t(14, 0);
        assert!(
            !slot_bookable(true, false, start, t(9, 0), 4),
            "reserved for referrals until 4 h before"
        );
        assert!(slot_bookable(true, true, start, t(9, 0), 4));
        assert!(
            slot_bookable(true, false, start, t(10, 0), 4),
            "released at 10:00"
        );
        assert!(slot_bookable(false, false, start, t(9, 0), 4));
        assert!(
            !slot_bookable(false, true, start, t(14, 0), 4),
            "a slot in the past is closed"
        );
    }
}
