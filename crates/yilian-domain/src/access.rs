//! 权限 — roles, what each may do, and which residents each may see.
//!
//! Authorization is data-scoped: a principal carries its role and the
//! institution or region it is bound to; every list of residents is filtered by
//! [`resident_scope`], and every action is checked with [`allowed`].

use serde::Serialize;

use crate::region::{RegionCode, RegionLevel};
use crate::registry::{CareLevel, InstitutionKind};

crate::vocabulary!(
    /// 角色 — user roles.
    Role {
        Resident = "resident": "居民",
        VillageDoctor = "village_doctor": "乡村医生",
        PrimaryClinician = "primary_clinician": "基层医生",
        Specialist = "specialist": "专科医生",
        ReferralDesk = "referral_desk": "转诊服务中心",
        Insurer = "insurer": "医保经办",
        HealthCommission = "health_commission": "卫生健康委",
        Cdc = "cdc": "疾控中心",
        Admin = "admin": "系统管理员",
    }
);

/// What a role's scope code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// Bound to one institution (its code).
    Institution,
    /// Bound to a region (its code) and everything inside it.
    Region,
    /// Bound to one resident (identity number or health card id).
    Resident,
    /// Unbound: the platform administrator.
    None,
}

impl Role {
    /// 角色绑定 — which kind of scope a role must be bound to.
    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Role::VillageDoctor
            | Role::PrimaryClinician
            | Role::Specialist
            | Role::ReferralDesk => ScopeKind::Institution,
            Role::Insurer | Role::HealthCommission | Role::Cdc => ScopeKind::Region,
            Role::Resident => ScopeKind::Resident,
            Role::Admin => ScopeKind::None,
        }
    }
}

/// The institution a clinical user works at, as much as access rules need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstitutionRef {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub region_code: RegionCode,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub institution: Option<InstitutionRef>,
    pub region: Option<RegionCode>,
    pub resident_id: Option<i64>,
}

/// Things a caller can try to do; each route names the one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read regions, institutions, consortia, practitioners, teams.
    ReadRegistry,
    /// Create or update registry entries.
    WriteRegistry,
    /// Search and read residents (further limited by [`resident_scope`]).
    ReadResident,
    /// Register a resident or correct their demographics.
    WriteResident,
    /// Run duplicate detection, merge and unmerge (MPI stewardship).
    ManageMpi,
    /// Create logins.
    ManageUsers,
    /// Sign, renew, cancel and transfer family-doctor contracts; enrol
    /// patients, record follow-ups, prescribe.
    WriteCare,
    /// Configure service packages and settle team fees.
    ManageFees,
    /// 费用录入 — enter an encounter's itemised cost for settlement (the
    /// institution that gave the care, or the insurer's office).
    EnterClaim,
    /// 医保经办 — review, valuate or reject claims, publish policy versions,
    /// settle capitation.
    Adjudicate,
    /// Read the insurance fund's positions and claims across institutions.
    ReadInsurance,
    /// 监测数据报送 — submit surveillance counts and case reports (sentinel
    /// institutions and the CDC).
    ReportSurveillance,
    /// 信号处置 — run the early-warning algorithms, verify, confirm or
    /// dismiss signals, open events (the CDC).
    ManageSignals,
    /// Read the surveillance dashboard and signals.
    ReadSurveillance,
    /// 监测评估 — read plan and tiered-care indicators, scorecards,
    /// accessibility and their drill-down lists (counts and record ids,
    /// never clinical content).
    ReadMonitoring,
}

/// 角色权限表 — which roles may take which action.
pub fn allowed(role: Role, action: Action) -> bool {
    use Role::*;
    match action {
        Action::ReadRegistry | Action::ReadResident => true,
        Action::WriteRegistry => matches!(role, Admin | HealthCommission),
        Action::WriteResident => matches!(
            role,
            Admin | VillageDoctor | PrimaryClinician | Specialist | ReferralDesk
        ),
        Action::ManageMpi => matches!(role, Admin | HealthCommission),
        Action::ManageUsers => matches!(role, Admin),
        Action::WriteCare => matches!(role, Admin | VillageDoctor | PrimaryClinician | Specialist),
        Action::ManageFees => matches!(role, Admin | HealthCommission),
        Action::EnterClaim => matches!(
            role,
            Admin | Insurer | VillageDoctor | PrimaryClinician | Specialist | ReferralDesk
        ),
        Action::Adjudicate => matches!(role, Admin | Insurer),
        Action::ReadInsurance => matches!(role, Admin | Insurer | HealthCommission),
        Action::ReportSurveillance => matches!(
            role,
            Admin | Cdc | PrimaryClinician | Specialist | VillageDoctor
        ),
        Action::ManageSignals => matches!(role, Admin | Cdc),
        Action::ReadSurveillance => matches!(role, Admin | Cdc | HealthCommission),
        Action::ReadMonitoring => matches!(role, Admin | HealthCommission | Insurer),
    }
}

/// Which residents a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResidentScope {
    /// Every resident (platform administrator).
    All,
    /// Residents living inside the region prefix, plus those registered at
    /// the given institution (a treating relationship that outlives address).
    Area {
        prefix: String,
        institution_id: Option<i64>,
    },
    /// Only this resident (the resident themself).
    Only(i64),
    /// No one (a misconfigured login).
    Nobody,
}

impl ResidentScope {
    /// Whether a resident living in `region_code` and registered at
    /// `registered_at` (institution id), with row id `resident_id`, is visible.
    pub fn admits(&self, resident_id: i64, region_code: &str, registered_at: Option<i64>) -> bool {
        match self {
            ResidentScope::All => true,
            ResidentScope::Area {
                prefix,
                institution_id,
            } => {
                region_code.starts_with(prefix.as_str())
                    || (institution_id.is_some() && *institution_id == registered_at)
            }
            ResidentScope::Only(id) => *id == resident_id,
            ResidentScope::Nobody => false,
        }
    }
}

/// 服务辖区 — the area an institution serves: a village clinic its village,
/// a township or community center its township (street), a county-level
/// hospital its county, a city or tertiary hospital its city.
pub fn catchment(kind: InstitutionKind, region: &RegionCode) -> String {
    let code = region.as_str();
    match kind.care_level() {
        CareLevel::Village | CareLevel::Primary => region.scope_prefix().to_string(),
        CareLevel::County | CareLevel::PublicHealth => code[..6.min(code.len())].to_string(),
        CareLevel::City | CareLevel::Tertiary => code[..4.min(code.len())].to_string(),
    }
}

/// 数据范围 — the residents a principal may see (before any later grounds such
/// as referrals or consent, which later capabilities add).
pub fn resident_scope(p: &Principal) -> ResidentScope {
    match p.role.scope_kind() {
        ScopeKind::None => ResidentScope::All,
        ScopeKind::Resident => p
            .resident_id
            .map_or(ResidentScope::Nobody, ResidentScope::Only),
        ScopeKind::Region => {
            p.region
                .as_ref()
                .map_or(ResidentScope::Nobody, |r| ResidentScope::Area {
                    prefix: r.scope_prefix().to_string(),
                    institution_id: None,
                })
        }
        ScopeKind::Institution => {
            p.institution
                .as_ref()
                .map_or(ResidentScope::Nobody, |i| ResidentScope::Area {
                    prefix: catchment(i.kind, &i.region_code),
                    institution_id: Some(i.id),
                })
        }
    }
}

/// 管理辖区 — whether a registry write at `region` is inside the caller's
/// administrative area (health commission: its region; admin: anywhere).
pub fn may_administer(p: &Principal, region: &RegionCode) -> bool {
    match p.role {
        Role::Admin => true,
        Role::HealthCommission => p.region.as_ref().is_some_and(|r| r.contains(region)),
        _ => false,
    }
}

/// The level a region-bound login should be bound at: county or above.
pub fn region_scope_ok(level: RegionLevel) -> bool {
    matches!(
        level,
        RegionLevel::Province | RegionLevel::City | RegionLevel::County
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(
        role: Role,
        inst: Option<(InstitutionKind, &str)>,
        region: Option<&str>,
    ) -> Principal {
        Principal {
            user_id: 1,
            username: "u".into(),
            role,
            institution: inst.map(|(kind, r)| InstitutionRef {
                id: 7,
                code: "X".into(),
                name: "X".into(),
                kind,
                region_code: RegionCode::parse(r).unwrap(),
            }),
            region: region.map(|r| RegionCode::parse(r).unwrap()),
            resident_id: None,
        }
    }

    #[test]
    fn village_doctor_sees_their_village_and_own_registrations() {
        let p = principal(
            Role::VillageDoctor,
            Some((InstitutionKind::VillageClinic, "140521101201")),
            None,
        );
        let s = resident_scope(&p);
        assert!(s.admits(1, "140521101201", None));
        assert!(!s.admits(1, "140521101202", None));
        assert!(s.admits(1, "110105000000", Some(7)));
    }

    #[test]
    fn township_center_sees_the_township_county_hospital_the_county() {
        let t = principal(
            Role::PrimaryClinician,
            Some((InstitutionKind::TownshipHealthCenter, "140521101")),
            None,
        );
        assert!(resident_scope(&t).admits(1, "140521101999", None));
        assert!(!resident_scope(&t).admits(1, "140521102001", None));
        let c = principal(
            Role::Specialist,
            Some((InstitutionKind::CountyGeneralHospital, "140521")),
            None,
        );
        assert!(resident_scope(&c).admits(1, "140521102001", None));
        assert!(!resident_scope(&c).admits(1, "140522102001", None));
    }

    #[test]
    fn region_roles_and_admin_and_unbound() {
        let hc = principal(Role::HealthCommission, None, Some("140521"));
        assert!(resident_scope(&hc).admits(1, "140521102001", None));
        assert!(may_administer(
            &hc,
            &RegionCode::parse("140521102").unwrap()
        ));
        assert!(!may_administer(&hc, &RegionCode::parse("140522").unwrap()));
        assert_eq!(
            resident_scope(&principal(Role::Admin, None, None)),
            ResidentScope::All
        );
        assert_eq!(
            resident_scope(&principal(Role::Cdc, None, None)),
            ResidentScope::Nobody
        );
        let mut me = principal(Role::Resident, None, None);
        me.resident_id = Some(5);
        assert!(
            resident_scope(&me).admits(5, "x", None) && !resident_scope(&me).admits(6, "x", None)
        );
    }

    #[test]
    fn permission_table() {
        assert!(allowed(Role::VillageDoctor, Action::WriteResident));
        assert!(!allowed(Role::Insurer, Action::WriteResident));
        assert!(!allowed(Role::VillageDoctor, Action::WriteRegistry));
        assert!(allowed(Role::HealthCommission, Action::WriteRegistry));
        assert!(!allowed(Role::HealthCommission, Action::ManageUsers));
        assert!(!allowed(Role::Cdc, Action::ManageMpi));
        assert!(allowed(Role::VillageDoctor, Action::WriteCare));
        assert!(!allowed(Role::Insurer, Action::WriteCare));
        assert!(!allowed(Role::PrimaryClinician, Action::ManageFees));
    }
}
