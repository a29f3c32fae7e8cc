//! 家庭医生签约 — family doctor contracting: service packages, the contract
//! lifecycle, contract caps, fee settlement and priority.
//!
//! Sources: seed 001 art. 31 ("1+1+1" 组合签约); seed 004 §三(三) (packages,
//! fee shared by insurance fund, public-health funds and residents; ≥ 70 % of
//! the fee to the team's pay, split by volume, quality and satisfaction;
//! "两卡制" verification of effective contracts; priority for contracted
//! residents); SPEC §2.2.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{Explain, FieldError};
use crate::money::{BasisPoints, share_of, split_by_weights};
use crate::registry::Profession;

crate::vocabulary!(
    /// 服务项目类别 — kinds of promised services in a package.
    ServiceKind {
        FollowUp = "follow_up": "随访",
        Exam = "exam": "健康体检",
        HomeVisit = "home_visit": "上门服务",
        Assessment = "assessment": "健康评估",
        Education = "education": "健康教育",
    }
);

crate::vocabulary!(
    /// 签约服务费付费方 — who pays a package's yearly fee.
    Payer {
        InsuranceFund = "insurance_fund": "医保基金",
        PublicHealthFund = "public_health_fund": "基本公共卫生经费",
        Resident = "resident": "签约居民",
    }
);

/// One promised service of a package: how many a year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceItem {
    pub code: String,
    pub name: String,
    pub kind: ServiceKind,
    pub per_year: u32,
}

/// 服务包 — a versioned package of services with its yearly fee and payers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicePackage {
    pub code: String,
    pub version: u32,
    pub name: String,
    /// Who the package is for (`None`: everyone), as a key-population code
    /// or a program (`hypertension`, `diabetes_t2`, `elderly_65`, …).
    pub target: Option<String>,
    pub valid_from: NaiveDate,
    pub yearly_fee_fen: i64,
    /// Payer shares in basis points; they sum to 10,000.
    pub payers: Vec<(Payer, BasisPoints)>,
    pub items: Vec<ServiceItem>,
}

impl ServicePackage {
    /// A package's shares must cover the fee exactly; items are positive.
    pub fn validate(&self) -> Result<(), FieldError> {
        let sum: u32 = self.payers.iter().map(|(_, bp)| *bp).sum();
        if sum != 10_000 {
            return Err(FieldError::new(
                "payers",
                format!(
                    "付费方比例合计应为100%，实际为{:.2}%",
                    f64::from(sum) / 100.0
                ),
                format!(
                    "payer shares must sum to 100 %, got {:.2} %",
                    f64::from(sum) / 100.0
                ),
            ));
        }
        if self.yearly_fee_fen < 0
            || self.items.is_empty()
            || self
                .items
                .iter()
                .any(|i| i.per_year == 0 || i.per_year > 52)
        {
            return Err(FieldError::new(
                "items",
                "服务包须有服务项目，每年次数为1至52",
                "a package has items, each 1 to 52 times a year",
            ));
        }
        Ok(())
    }

    /// How the yearly fee divides among payers, in fen (adds up exactly).
    pub fn fee_by_payer(&self) -> Vec<(Payer, i64)> {
        let weights: Vec<f64> = self.payers.iter().map(|(_, bp)| f64::from(*bp)).collect();
        self.payers
            .iter()
            .map(|(p, _)| *p)
            .zip(split_by_weights(self.yearly_fee_fen, &weights))
            .collect()
    }
}

crate::vocabulary!(
    /// 签约状态 — contract state.
    ContractStatus {
        Active = "active": "履约中",
        Renewed = "renewed": "已续约",
        Cancelled = "cancelled": "已解约",
        Transferred = "transferred": "已转签",
        Expired = "expired": "已到期",
    }
);

/// What can happen to a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractEvent {
    /// 续约: a new contract follows this one.
    Renew,
    /// 解约 (with a reason, recorded by the caller).
    Cancel,
    /// 转签: the resident moves to another team.
    Transfer,
    /// 到期: the period ended without renewal.
    Expire,
}

impl ContractEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractEvent::Renew => "renew",
            ContractEvent::Cancel => "cancel",
            ContractEvent::Transfer => "transfer",
            ContractEvent::Expire => "expire",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("resident already has an active contract with team {team}")]
    Exists { team: String },
    #[error("{who} has reached the contract cap of {cap}")]
    CapReached { who: String, cap: u32 },
    #[error("cannot {event} a contract that is {from}")]
    IllegalTransition {
        from: ContractStatus,
        event: &'static str,
    },
    #[error("a cancellation needs a reason")]
    ReasonRequired,
    #[error("team pay share {bp} bp is below the minimum of 7,000 bp (70 %)")]
    FeeShareBelowMinimum { bp: BasisPoints },
    #[error("{0}")]
    Invalid(String),
}

impl Explain for ContractError {
    fn code(&self) -> &'static str {
        match self {
            ContractError::Exists { .. } => "contract_exists",
            ContractError::CapReached { .. } => "contract_cap_reached",
            ContractError::IllegalTransition { .. } => "illegal_transition",
            ContractError::ReasonRequired | ContractError::Invalid(_) => "invalid_field",
            ContractError::FeeShareBelowMinimum { .. } => "fee_share_below_minimum",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            ContractError::Exists { team } => {
                format!("该居民已与{team}签约，同一时间只能签约一个家庭医生团队")
            }
            ContractError::CapReached { who, cap } => format!("{who}签约人数已达上限{cap}人"),
            ContractError::IllegalTransition { from, event } => {
                format!("{}状态的签约不能执行“{event}”", from.label_zh())
            }
            ContractError::ReasonRequired => "解约须填写原因".into(),
            ContractError::FeeShareBelowMinimum { bp } => {
                format!(
                    "团队薪酬比例{:.2}%低于签约服务费的70%（不低于70%用于团队人员薪酬）",
                    f64::from(*bp) / 100.0
                )
            }
            ContractError::Invalid(m) => m.clone(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// 签约状态机 — the only way a contract's state changes.
pub fn transition(
    from: ContractStatus,
    event: ContractEvent,
) -> Result<ContractStatus, ContractError> {
    use ContractStatus::*;
    match (from, event) {
        (Active, ContractEvent::Renew) => Ok(Renewed),
        (Active, ContractEvent::Cancel) => Ok(Cancelled),
        (Active, ContractEvent::Transfer) => Ok(Transferred),
        (Active, ContractEvent::Expire) => Ok(Expired),
        // An expired contract can still be renewed (续约 after the end date).
        (Expired, ContractEvent::Renew) => Ok(Renewed),
        (from, event) => Err(ContractError::IllegalTransition {
            from,
            event: event.as_str(),
        }),
    }
}

/// 签约周期 — the default period: one year, ending the day before the
/// anniversary (2026-03-01 → 2027-02-28; 2024-02-29 → 2025-02-28).
pub fn default_end(start: NaiveDate) -> NaiveDate {
    let next = start
        .with_year(start.year() + 1)
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(start.year() + 1, 3, 1).unwrap_or(start));
    next.pred_opt().unwrap_or(next)
}

/// Whether a contract is in force on `date`.
pub fn in_force(status: ContractStatus, start: NaiveDate, end: NaiveDate, date: NaiveDate) -> bool {
    status == ContractStatus::Active && start <= date && date <= end
}

/// 签约上限 — the most residents one practitioner may hold, by profession.
/// A county configures these; the defaults follow the national guidance of
/// about 2,000 residents per family doctor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapPolicy {
    pub licensed_physician: u32,
    pub assistant_physician: u32,
    pub village_doctor: u32,
}

impl Default for CapPolicy {
    fn default() -> Self {
        CapPolicy {
            licensed_physician: 2_000,
            assistant_physician: 1_500,
            village_doctor: 800,
        }
    }
}

impl CapPolicy {
    /// The cap of one practitioner (0: may not be the responsible doctor).
    pub fn cap(&self, p: Profession) -> u32 {
        match p {
            Profession::LicensedPhysician => self.licensed_physician,
            Profession::AssistantPhysician => self.assistant_physician,
            Profession::VillageDoctor => self.village_doctor,
            _ => 0,
        }
    }
}

/// 签约上限核对 — a new contract must fit both the responsible doctor's cap
/// (counted over every team they belong to, so two teams do not double it)
/// and the team's capacity.
pub fn check_caps(
    doctor: &str,
    doctor_active: u32,
    doctor_cap: u32,
    team: &str,
    team_active: u32,
    team_cap: u32,
    adding: u32,
) -> Result<(), ContractError> {
    if doctor_active + adding > doctor_cap {
        return Err(ContractError::CapReached {
            who: doctor.to_string(),
            cap: doctor_cap,
        });
    }
    if team_active + adding > team_cap {
        return Err(ContractError::CapReached {
            who: team.to_string(),
            cap: team_cap,
        });
    }
    Ok(())
}

/// The minimum share of collected fees that goes to the team's pay (seed 004
/// §三(三)5: "原则上将不低于70%的签约服务费用于家庭医生团队人员薪酬").
pub const TEAM_PAY_MIN_BP: BasisPoints = 7_000;

/// Weights of the three performance measures in a member's share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SettlementWeights {
    pub volume: f64,
    pub quality: f64,
    pub satisfaction: f64,
}

impl Default for SettlementWeights {
    fn default() -> Self {
        SettlementWeights {
            volume: 0.5,
            quality: 0.3,
            satisfaction: 0.2,
        }
    }
}

/// A member's scores for the settlement period; each is compared with the
/// team's total (volume) or used as a 0–1 score (quality, satisfaction).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemberScore {
    pub practitioner_id: i64,
    /// Services delivered (count).
    pub volume: f64,
    /// Quality score 0–1.
    pub quality: f64,
    /// Satisfaction score 0–1.
    pub satisfaction: f64,
}

/// The result of settling a team's fees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    pub collected_fen: i64,
    pub team_pay_fen: i64,
    pub institution_fen: i64,
    pub members: Vec<(i64, i64)>,
}

/// 签约服务费分配 — at least 70 % of collected fees to the team's pay,
/// split among members by weighted volume, quality and satisfaction.
pub fn settle_fees(
    collected_fen: i64,
    team_share_bp: BasisPoints,
    w: SettlementWeights,
    members: &[MemberScore],
) -> Result<Settlement, ContractError> {
    if team_share_bp < TEAM_PAY_MIN_BP {
        return Err(ContractError::FeeShareBelowMinimum { bp: team_share_bp });
    }
    if team_share_bp > 10_000 || collected_fen < 0 {
        return Err(ContractError::Invalid(
            "team share is at most 100 % of non-negative fees".into(),
        ));
    }
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    if members
        .iter()
        .any(|m| !ok(m.volume) || !ok(m.quality) || !ok(m.satisfaction))
        || ![w.volume, w.quality, w.satisfaction].into_iter().all(ok)
    {
        return Err(ContractError::Invalid(
            "scores and weights are non-negative numbers".into(),
        ));
    }
    let team_pay_fen = share_of(collected_fen, team_share_bp);
    let total_volume: f64 = members.iter().map(|m| m.volume).sum();
    let weights: Vec<f64> = members
        .iter()
        .map(|m| {
            let v = if total_volume > 0.0 {
                m.volume / total_volume
            } else {
                0.0
            };
            w.volume * v + w.quality * m.quality.min(1.0) + w.satisfaction * m.satisfaction.min(1.0)
        })
        .collect();
    let parts = split_by_weights(team_pay_fen, &weights);
    Ok(Settlement {
        collected_fen,
        team_pay_fen,
        institution_fen: collected_fen - team_pay_fen,
        members: members
            .iter()
            .map(|m| m.practitioner_id)
            .zip(parts)
            .collect(),
    })
}

/// 签约居民优先 — what referral and booking need to know to put a resident
/// first (优先接诊、优先检查、优先住院).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priority {
    pub contracted: bool,
    pub team_id: Option<i64>,
    pub contract_id: Option<i64>,
    pub until: Option<NaiveDate>,
}

/// The contract facts `priority_of` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractFacts {
    pub id: i64,
    pub team_id: i64,
    pub status: ContractStatus,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// `priority_of(resident, date)`: the resident's contract in force on `date`
/// (if any) marks them as contracted.
pub fn priority_of(contracts: &[ContractFacts], date: NaiveDate) -> Priority {
    match contracts
        .iter()
        .find(|c| in_force(c.status, c.start, c.end, date))
    {
        Some(c) => Priority {
            contracted: true,
            team_id: Some(c.team_id),
            contract_id: Some(c.id),
            until: Some(c.end),
        },
        None => Priority {
            contracted: false,
            team_id: None,
            contract_id: None,
            until: None,
        },
    }
}

/// 有效签约 — how far behind a contract's delivered services are. Each item
/// promised `per_year` times is due pro rata over the period elapsed; a
/// contract is effective when every item is on schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemProgress {
    pub item: String,
    pub kind: ServiceKind,
    pub promised: u32,
    pub due_by_now: u32,
    pub delivered: u32,
}

impl ItemProgress {
    pub fn behind(&self) -> bool {
        self.delivered < self.due_by_now
    }
}

/// A contract's progress on `date`: every item of its packages (by code,
/// from `packages`) with what was delivered of its kind (`delivered`).
pub fn progress(
    packages: &[ServicePackage],
    codes: &[String],
    delivered: impl Fn(ServiceKind) -> u32,
    start: NaiveDate,
    end: NaiveDate,
    date: NaiveDate,
) -> Vec<ItemProgress> {
    codes
        .iter()
        .filter_map(|code| packages.iter().find(|p| &p.code == code))
        .flat_map(|pkg| pkg.items.iter())
        .map(|it| ItemProgress {
            item: it.name.clone(),
            kind: it.kind,
            promised: it.per_year,
            due_by_now: due_by(it.per_year, start, end, date),
            delivered: delivered(it.kind),
        })
        .collect()
}

/// 有效签约 — effective when no item is behind.
pub fn is_effective(items: &[ItemProgress]) -> bool {
    !items.iter().any(ItemProgress::behind)
}

/// Services due by `date` for a contract running `start..=end`: the promised
/// count times the share of the period elapsed, rounded down (so a quarterly
/// follow-up is due once three months have passed).
pub fn due_by(per_year: u32, start: NaiveDate, end: NaiveDate, date: NaiveDate) -> u32 {
    let total = (end - start).num_days().max(1) + 1;
    let elapsed = ((date.min(end) - start).num_days() + 1).clamp(0, total);
    ((i64::from(per_year) * elapsed) / total) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn fee_share_seventy_percent_accepted_below_refused() {
        let m = [MemberScore {
            practitioner_id: 1,
            volume: 10.0,
            quality: 1.0,
            satisfaction: 1.0,
        }];
        let s = settle_fees(1_000_000, 7_000, SettlementWeights::default(), &m).unwrap();
        assert_eq!((s.team_pay_fen, s.institution_fen), (700_000, 300_000));
        // 69.99 % is 6,999 bp.
        let e = settle_fees(1_000_000, 6_999, SettlementWeights::default(), &m).unwrap_err();
        assert_eq!(e.code(), "fee_share_below_minimum");
    }

    #[test]
    fn members_split_by_volume_quality_and_satisfaction() {
        let m = [
            MemberScore {
                practitioner_id: 1,
                volume: 300.0,
                quality: 0.9,
                satisfaction: 0.95,
            },
            MemberScore {
                practitioner_id: 2,
                volume: 100.0,
                quality: 0.9,
                satisfaction: 0.95,
            },
        ];
        let s = settle_fees(100_000, 8_000, SettlementWeights::default(), &m).unwrap();
        assert_eq!(s.members.iter().map(|(_, f)| f).sum::<i64>(), 80_000);
        assert!(
            s.members[0].1 > s.members[1].1,
            "more volume, more pay: {s:?}"
        );
        assert!(
            settle_fees(
                1,
                7_000,
                SettlementWeights::default(),
                &[MemberScore {
                    practitioner_id: 1,
                    volume: f64::NAN,
                    quality: 0.0,
                    satisfaction: 0.0
                }]
            )
            .is_err()
        );
    }

    #[test]
    fn lifecycle_transitions_exhaustively() {
        use ContractEvent::*;
        use ContractStatus::*;
        let events = [Renew, Cancel, Transfer, Expire];
        for from in ContractStatus::ALL {
            for ev in events {
                let r = transition(*from, ev);
                let expected = match (from, ev) {
                    (Active, Renew) | (Expired, Renew) => Some(Renewed),
                    (Active, Cancel) => Some(Cancelled),
                    (Active, Transfer) => Some(Transferred),
                    (Active, Expire) => Some(Expired),
                    _ => None,
                };
                assert_eq!(r.ok(), expected, "{from:?} × {ev:?}");
            }
        }
    }

    #[test]
    fn one_year_by_default() {
        assert_eq!(default_end(d(2026, 3, 1)), d(2027, 2, 28));
        assert_eq!(default_end(d(2024, 2, 29)), d(2025, 2, 28));
        assert_eq!(default_end(d(2026, 1, 1)), d(2026, 12, 31));
    }

    #[test]
    fn caps_count_the_doctor_across_teams() {
        assert!(check_caps("赵医生", 1_999, 2_000, "团队", 10, 4_000, 1).is_ok());
        let e = check_caps("赵医生", 2_000, 2_000, "团队", 10, 4_000, 1).unwrap_err();
        assert_eq!(e.code(), "contract_cap_reached");
        assert!(
            check_caps("赵医生", 10, 2_000, "团队", 3_999, 4_000, 2).is_err(),
            "a household of two over the team cap"
        );
        assert_eq!(
            CapPolicy::default().cap(Profession::LicensedPhysician),
            2_000
        );
        assert_eq!(CapPolicy::default().cap(Profession::RegisteredNurse), 0);
    }

    #[test]
    fn priority_follows_the_contract_in_force() {
        let c = ContractFacts {
            id: 9,
            team_id: 3,
            status: ContractStatus::Active,
            start: d(2026, 1, 1),
            end: d(2026, 12, 31),
        };
        assert!(priority_of(&[c], d(2026, 6, 1)).contracted);
        assert!(!priority_of(&[c], d(2027, 1, 1)).contracted);
        let cancelled = ContractFacts {
            status: ContractStatus::Cancelled,
            ..c
        };
        assert!(!priority_of(&[cancelled], d(2026, 6, 1)).contracted);
    }

    #[test]
    fn services_due_pro_rata() {
        let (s, e) = (d(2026, 1, 1), d(2026, 12, 31));
        assert_eq!(due_by(4, s, e, d(2026, 3, 31)), 0);
        assert_eq!(
            due_by(4, s, e, d(2026, 4, 2)),
            1,
            "a quarter of 365 days has passed"
        );
        assert_eq!(due_by(4, s, e, d(2026, 12, 31)), 4);
        assert_eq!(due_by(4, s, e, d(2027, 6, 1)), 4);
        assert_eq!(due_by(4, s, e, d(2025, 6, 1)), 0);
    }

    #[test]
    fn package_shares_must_cover_the_fee() {
        let p = ServicePackage {
            code: "basic".into(),
            version: 1,
            name: "基础包".into(),
            target: None,
            valid_from: d(2026, 1, 1),
            yearly_fee_fen: 12_000,
            payers: vec![
                (Payer::InsuranceFund, 5_000),
                (Payer::PublicHealthFund, 3_000),
                (Payer::Resident, 2_000),
            ],
            items: vec![ServiceItem {
                code: "fu".into(),
                name: "随访".into(),
                kind: ServiceKind::FollowUp,
                per_year: 4,
            }],
        };
        assert!(p.validate().is_ok());
        assert_eq!(p.fee_by_payer().iter().map(|(_, f)| f).sum::<i64>(), 12_000);
        let bad = ServicePackage {
            payers: vec![(Payer::Resident, 9_999)],
            ..p
        };
        assert!(bad.validate().is_err());
    }
}
