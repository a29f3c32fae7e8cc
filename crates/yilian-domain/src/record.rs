//! 居民电子健康档案 — the shared health record: what an entry is, who may
//! read a resident's record and on what grounds (授权调阅), the resident's
//! consent, and the tamper-evident chain of the access log.
//!
//! Seed 001 (art. 34–36) and seed 000 (§(二)4) ask for records that follow
//! the resident across institutions; SPEC §2.5 sets the access rule: the
//! resident; clinicians treating them (an open referral, a contract with their
//! team, or an encounter at their institution); anyone else only with the
//! resident's consent, which the resident grants and revokes.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::Explain;
use crate::access::Role;

crate::vocabulary!(
    /// 档案条目类型 — the kinds of entry in one resident's timeline.
    EntryKind {
        Encounter = "encounter": "就诊",
        Diagnosis = "diagnosis": "诊断",
        Prescription = "prescription": "处方",
        Lab = "lab": "检验结果",
        Exam = "exam": "检查结果",
        Document = "document": "文书",
    }
);

crate::vocabulary!(
    /// 就诊类型 — the kind of an encounter entry.
    EncounterType {
        Outpatient = "outpatient": "门诊",
        Inpatient = "inpatient": "住院",
        Emergency = "emergency": "急诊",
        HomeVisit = "home_visit": "家庭访视",
        FollowUp = "follow_up": "随访",
    }
);

crate::vocabulary!(
    /// 调阅依据 — the ground on which a record was read (or why it was refused).
    Ground {
        Own = "own": "本人查阅",
        Referral = "referral": "转诊诊疗关系",
        Contract = "contract": "家庭医生签约服务",
        Encounter = "encounter": "近期在本机构就诊",
        Consent = "consent": "居民授权",
        RemoteRead = "remote_read": "远程诊断协作",
        BreakGlass = "break_glass": "紧急调阅",
    }
);

crate::vocabulary!(
    /// 授权对象 — whom a consent is given to.
    GranteeKind {
        Institution = "institution": "医疗机构",
        Consortium = "consortium": "医联体",
    }
);

/// 近期就诊 — an encounter at the reader's institution counts as a treating
/// relationship for this many days (the default; a county sets
/// `YILIAN_RECORD_ENCOUNTER_DAYS`).
pub const ENCOUNTER_GROUND_DAYS: i64 = 180;

/// A consent may run at most this many days (three years): long enough for a
/// chronic patient's hospital, short enough to be re-confirmed.
pub const MAX_CONSENT_DAYS: i64 = 3 * 366;

/// 紧急调阅 reasons shorter than this are not reasons.
pub const BREAK_GLASS_MIN_CHARS: usize = 4;

/// The facts about one reader and one resident that the access rule weighs.
/// The store gathers them; [`grounds`] decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFacts {
    /// The reader is the resident (a resident login bound to them).
    pub is_self: bool,
    /// An open referral (submitted … arrived) from or to the reader's institution.
    pub open_referral: bool,
    /// An active family-doctor contract with a team the reader's institution runs.
    pub active_contract: bool,
    /// Days since the resident's latest encounter at the reader's institution.
    pub days_since_encounter: Option<i64>,
    /// A consent in force covering the reader's institution (directly or by consortium).
    pub consent: bool,
    /// Days since the latest remote-diagnosis request (not cancelled) between
    /// the reader's institution and this resident, on either side.
    pub days_since_remote: Option<i64>,
    /// The reason given for emergency access, if the reader invoked it.
    pub break_glass: Option<String>,
}

/// Roles that read clinical records at all; the health commission, insurer,
/// CDC and the platform administrator see aggregates, never a record.
pub fn reads_records(role: Role) -> bool {
    matches!(
        role,
        Role::VillageDoctor
            | Role::PrimaryClinician
            | Role::Specialist
            | Role::ReferralDesk
            | Role::Resident
    )
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("no grounds to read this record: no treating relationship or consent")]
    NoGrounds,
    #[error("emergency access needs a reason of at least {BREAK_GLASS_MIN_CHARS} characters")]
    BreakGlassReason,
    #[error("{en}")]
    ConsentPeriod { zh: String, en: String },
}

impl Explain for RecordError {
    fn code(&self) -> &'static str {
        match self {
            RecordError::NoGrounds => "no_access_grounds",
            RecordError::BreakGlassReason => "invalid_field",
            RecordError::ConsentPeriod { .. } => "invalid_consent_period",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            RecordError::NoGrounds => {
                "无调阅依据：您与该居民没有诊疗关系，也未获其授权（紧急情况可申请紧急调阅）".into()
            }
            RecordError::BreakGlassReason => {
                format!("紧急调阅须填写理由（至少 {BREAK_GLASS_MIN_CHARS} 个字）")
            }
            RecordError::ConsentPeriod { zh, .. } => zh.clone(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// 授权调阅 — the ground on which `role` may read a resident's record, in
/// order of strength: the resident themself; a treating relationship (open
/// referral, active contract, encounter within `encounter_days`); the
/// resident's consent; last, emergency access with a stated reason, which is
/// flagged for review. None of these → [`RecordError::NoGrounds`] (the
/// refused attempt is logged too).
pub fn grounds(role: Role, f: &AccessFacts, encounter_days: i64) -> Result<Ground, RecordError> {
    if !reads_records(role) {
        return Err(RecordError::NoGrounds);
    }
    if role == Role::Resident {
        return if f.is_self {
            Ok(Ground::Own)
        } else {
            Err(RecordError::NoGrounds)
        };
    }
    if f.open_referral {
        return Ok(Ground::Referral);
    }
    if f.active_contract {
        return Ok(Ground::Contract);
    }
    if f.days_since_encounter
        .is_some_and(|d| (0..=encounter_days).contains(&d))
    {
        return Ok(Ground::Encounter);
    }
    if f.consent {
        return Ok(Ground::Consent);
    }
    // 远程诊断: the requester examined the resident and the reader reports
    // on them — a treating relationship for as long as an encounter is.
    if f.days_since_remote
        .is_some_and(|d| (0..=encounter_days).contains(&d))
    {
        return Ok(Ground::RemoteRead);
    }
    match &f.break_glass {
        Some(reason) if reason.trim().chars().count() >= BREAK_GLASS_MIN_CHARS => {
            Ok(Ground::BreakGlass)
        }
        Some(_) => Err(RecordError::BreakGlassReason),
        None => Err(RecordError::NoGrounds),
    }
}

/// Whether a read on `ground` goes on the review list (紧急调阅事后审核).
pub fn needs_review(ground: Ground) -> bool {
    ground == Ground::BreakGlass
}

/// 授权期限 — a consent runs from `from` to `to` inclusive; it may not end
/// in the past, start after it ends, or run longer than [`MAX_CONSENT_DAYS`].
pub fn check_consent_period(
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> Result<(), RecordError> {
    let bad = |zh: &str, en: &str| {
        Err(RecordError::ConsentPeriod {
            zh: zh.into(),
            en: en.into(),
        })
    };
    if to < today {
        return bad(
            "授权期限已过：截止日期不能早于今天",
            "the consent period is in the past: it must end today or later",
        );
    }
    if from > to {
        return bad(
            "授权开始日期晚于截止日期",
            "the consent starts after it ends",
        );
    }
    if (to - from).num_days() > MAX_CONSENT_DAYS {
        return bad(
            "授权期限最长三年",
            "a consent may run for at most three years",
        );
    }
    Ok(())
}

/// Whether a consent from `from` to `to` (revoked at `revoked`, if ever) is
/// in force at `now`. Revocation takes effect at once.
pub fn consent_in_force(
    from: NaiveDate,
    to: NaiveDate,
    revoked: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> bool {
    revoked.is_none_or(|r| r > now) && (from..=to).contains(&now.date())
}

/// One access-log entry as it is hashed. The fields are joined with the unit
/// separator (U+001F), which no field may hold, so no two entries share a
/// canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine<'a> {
    pub id: i64,
    pub at: &'a str,
    pub user_id: Option<i64>,
    pub role: &'a str,
    pub institution_id: Option<i64>,
    pub resident_id: i64,
    pub part: &'a str,
    pub ground: &'a str,
    pub outcome: &'a str,
    pub reason: &'a str,
}

/// The hash of the chain before its first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// 防篡改 — an entry's hash: SHA-256 over the previous entry's hash and this
/// entry's canonical text, hex-encoded. Changing, removing or reordering any
/// entry breaks every hash after it.
pub fn chain_hash(prev: &str, l: &LogLine<'_>) -> String {
    use sha2::{Digest, Sha256};
    let opt = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
    let text = [
        prev,
        &l.id.to_string(),
        l.at,
        &opt(l.user_id),
        l.role,
        &opt(l.institution_id),
        &l.resident_id.to_string(),
        l.part,
        l.ground,
        l.outcome,
        &l.reason.replace('\u{1f}', " "),
    ]
    .join("\u{1f}");
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a verified chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The id of the first entry whose stored hash or link is wrong.
    pub id: i64,
    pub why: &'static str,
}

/// Checks entries in id order, given each entry with its stored previous
/// hash and hash, starting from `prev` (the [`GENESIS_HASH`] for the whole
/// log). Returns the last good hash, or the first broken entry.
pub fn verify_chain<'a>(
    prev: &str,
    entries: impl IntoIterator<Item = (LogLine<'a>, &'a str, &'a str)>,
) -> Result<String, Break> {
    let mut prev = prev.to_string();
    for (line, stored_prev, stored_hash) in entries {
        if stored_prev != prev {
            return Err(Break {
                id: line.id,
                why: "link to the previous entry does not match (an entry before it was removed or reordered)",
            });
        }
        let h = chain_hash(&prev, &line);
        if h != stored_hash {
            return Err(Break {
                id: line.id,
                why: "content does not match its hash (the entry was altered)",
            });
        }
        prev = h;
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> AccessFacts {
        AccessFacts::default()
    }

    #[test]
    fn each_ground_alone_grants_and_its_absence_refuses() {
        let d = ENCOUNTER_GROUND_DAYS;
        let clinician = Role::PrimaryClinician;
        assert_eq!(grounds(clinician, &facts(), d), Err(RecordError::NoGrounds));
        let cases: [(AccessFacts, Ground); 6] = [
            (
                AccessFacts {
                    days_since_remote: Some(2),
                    ..facts()
                },
                Ground::RemoteRead,
            ),
            (
                AccessFacts {
                    open_referral: true,
                    ..facts()
                },
                Ground::Referral,
            ),
            (
                AccessFacts {
                    active_contract: true,
                    ..facts()
                },
                Ground::Contract,
            ),
            (
                AccessFacts {
                    days_since_encounter: Some(0),
                    ..facts()
                },
                Ground::Encounter,
            ),
            (
                AccessFacts {
                    consent: true,
                    ..facts()
                },
                Ground::Consent,
            ),
            (
                AccessFacts {
                    break_glass: Some("昏迷急诊抢救".into()),
                    ..facts()
                },
                Ground::BreakGlass,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(grounds(clinician, &f, d), Ok(want), "{f:?}");
            assert_eq!(grounds(Role::Specialist, &f, d), Ok(want));
            assert_eq!(grounds(Role::VillageDoctor, &f, d), Ok(want));
        }
    }

    #[test]
    fn encounter_ground_ends_after_the_configured_days() {
        let f = |days| AccessFacts {
            days_since_encounter: Some(days),
            ..facts()
        };
        assert_eq!(
            grounds(Role::Specialist, &f(180), 180),
            Ok(Ground::Encounter)
        );
        assert_eq!(
            grounds(Role::Specialist, &f(181), 180),
            Err(RecordError::NoGrounds)
        );
        assert_eq!(
            grounds(Role::Specialist, &f(31), 30),
            Err(RecordError::NoGrounds)
        );
        // A future-dated encounter is no ground.
        assert_eq!(
            grounds(Role::Specialist, &f(-1), 180),
            Err(RecordError::NoGrounds)
        );
    }

    #[test]
    fn stronger_grounds_are_named_first_and_break_glass_only_without_them() {
        let all = AccessFacts {
            open_referral: true,
            active_contract: true,
            days_since_encounter: Some(3),
            consent: true,
            break_glass: Some("心跳骤停抢救".into()),
            ..facts()
        };
        assert_eq!(grounds(Role::Specialist, &all, 180), Ok(Ground::Referral));
        let consent_and_glass = AccessFacts {
            consent: true,
            break_glass: Some("心跳骤停抢救".into()),
            ..facts()
        };
        assert_eq!(
            grounds(Role::Specialist, &consent_and_glass, 180),
            Ok(Ground::Consent)
        );
        assert!(needs_review(Ground::BreakGlass));
        assert!(!needs_review(Ground::Consent));
    }

    #[test]
    fn break_glass_needs_a_real_reason() {
        let f = |r: &str| AccessFacts {
            break_glass: Some(r.into()),
            ..facts()
        };
        assert_eq!(
            grounds(Role::Specialist, &f("急诊"), 180),
            Err(RecordError::BreakGlassReason)
        );
        assert_eq!(
            grounds(Role::Specialist, &f("   "), 180),
            Err(RecordError::BreakGlassReason)
        );
        assert_eq!(
            grounds(Role::Specialist, &f("急诊抢救"), 180),
            Ok(Ground::BreakGlass)
        );
    }

    #[test]
    fn residents_read_only_their_own_and_oversight_roles_none() {
        let own = AccessFacts {
            is_self: true,
            ..facts()
        };
        assert_eq!(grounds(Role::Resident, &own, 180), Ok(Ground::Own));
        // A resident never gets in through another's consent or break-glass.
        let other = AccessFacts {
            consent: true,
            break_glass: Some("我是家属很着急".into()),
            ..facts()
        };
        assert_eq!(
            grounds(Role::Resident, &other, 180),
            Err(RecordError::NoGrounds)
        );
        for role in [
            Role::Admin,
            Role::HealthCommission,
            Role::Insurer,
            Role::Cdc,
        ] {
            let every = AccessFacts {
                open_referral: true,
                consent: true,
                ..facts()
            };
            assert_eq!(
                grounds(role, &every, 180),
                Err(RecordError::NoGrounds),
                "{role:?}"
            );
        }
        assert_eq!(RecordError::NoGrounds.code(), "no_access_grounds");
    }

    #[test]
    fn consent_periods() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-11-22");
        assert!(check_consent_period(today, today, today).is_ok());
        assert!(check_consent_period(d("2026-11-01"), d("2026-11-22"), today).is_ok());
        let past = check_consent_period(d("2026-10-01"), d("2026-11-21"), today).unwrap_err();
        assert_eq!(past.code(), "invalid_consent_period");
        assert!(check_consent_period(d("2026-12-02"), d("2026-12-01"), today).is_err());
        let max = today + chrono::Duration::days(MAX_CONSENT_DAYS);
        assert!(check_consent_period(today, max, today).is_ok());
        assert!(check_consent_period(today, max + chrono::Duration::days(1), today).is_err());
    }

    #[test]
    fn consent_in_force_until_revoked() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let (from, to) = (d("2026-11-01"), d("2026-11-30"));
        assert!(consent_in_force(from, to, None, t("2026-11-30 23:59:59")));
        assert!(!consent_in_force(from, to, None, t("2026-12-01 00:00:00")));
        assert!(!consent_in_force(from, to, None, t("2026-10-31 23:59:59")));
        let revoked = Some(t("2026-11-10 09:00:00"));
        assert!(consent_in_force(
            from,
            to,
            revoked,
            t("2026-11-10 08:59:59")
        ));
        assert!(!consent_in_force(
            from,
            to,
            revoked,
            t("2026-11-10 09:00:00")
        ));
    }

    fn line(id: i64, reason: &str) -> LogLine<'_> {
        LogLine {
            id,
            at: "2026-11-22T08:00:00Z",
            user_id: Some(7),
            role: "specialist",
            institution_id: Some(3),
            resident_id: 42,
            part: "timeline",
            ground: "consent",
            outcome: "granted",
            reason,
        }
    }

    #[test]
    fn the_chain_names_the_first_altered_or_missing_entry() {
        let h1 = chain_hash(GENESIS_HASH, &line(1, ""));
        let h2 = chain_hash(&h1, &line(2, ""));
        let h3 = chain_hash(&h2, &line(3, ""));
        assert_eq!(h1.len(), 64);
        let good = vec![
            (line(1, ""), GENESIS_HASH, h1.as_str()),
            (line(2, ""), h1.as_str(), h2.as_str()),
            (line(3, ""), h2.as_str(), h3.as_str()),
        ];
        assert_eq!(verify_chain(GENESIS_HASH, good.clone()), Ok(h3.clone()));
        let mut altered = good.clone();
        altered[1].0 = line(2, "edited");
        assert_eq!(verify_chain(GENESIS_HASH, altered).unwrap_err().id, 2);
        let removed = vec![good[0].clone(), good[2].clone()];
        assert_eq!(verify_chain(GENESIS_HASH, removed).unwrap_err().id, 3);
        // Every field is covered.
        let mut other = line(1, "");
        other.ground = "break_glass";
        assert_ne!(chain_hash(GENESIS_HASH, &other), h1);
    }
}
