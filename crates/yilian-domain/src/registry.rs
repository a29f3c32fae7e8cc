//! 主数据 — the registries' vocabularies (institution kinds, grades, beds,
//! professions, services, consortium kinds, team roles) and their rules.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::region::RegionLevel;

/// Declares a closed vocabulary: each variant has a stable snake_case code
/// (used in the API, the store and CSV) and a Chinese label (used in pages).
#[macro_export]
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($v:ident = $code:literal : $zh:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($v),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $code),+ }
            }
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$v => $zh),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($code => Some($name::$v),)+ _ => None }
            }
            /// Parses `s`, or names the field and the allowed codes.
            pub fn parse_field(field: &'static str, s: &str) -> Result<$name, $crate::error::FieldError> {
                Self::parse(s).ok_or_else(|| {
                    let allowed = Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ");
                    $crate::error::FieldError::new(field, format!("取值应为 {allowed} 之一"), format!("expected one of {allowed}, got {s:?}"))
                })
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown {} {s:?}", stringify!($name))))
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

vocabulary!(
    /// 机构类别 — institution kind.
    InstitutionKind {
        VillageClinic = "village_clinic": "村卫生室",
        TownshipHealthCenter = "township_health_center": "乡镇卫生院",
        CommunityHealthCenter = "community_health_center": "社区卫生服务中心",
        CommunityHealthStation = "community_health_station": "社区卫生服务站",
        CountyGeneralHospital = "county_general_hospital": "县级综合医院",
        CountyTcmHospital = "county_tcm_hospital": "县级中医医院",
        MaternalChildHospital = "maternal_child_hospital": "妇幼保健院",
        CityHospital = "city_hospital": "市级医院",
        TertiaryHospital = "tertiary_hospital": "三级医院",
        Cdc = "cdc": "疾病预防控制中心",
        PrivateClinic = "private_clinic": "民营诊所",
    }
);

vocabulary!(
    /// 服务层级 — the level of care an institution gives; insurance ratios,
    /// referral direction and the primary-visit share are defined on it.
    CareLevel {
        Village = "village": "村级",
        Primary = "primary": "乡镇/社区",
        County = "county": "县级",
        City = "city": "市级",
        Tertiary = "tertiary": "三级",
        PublicHealth = "public_health": "公共卫生",
    }
);

impl InstitutionKind {
    /// 基层医疗卫生机构 vs hospitals: the level of care this kind gives.
    pub fn care_level(self) -> CareLevel {
        use InstitutionKind::*;
        match self {
            VillageClinic => CareLevel::Village,
            TownshipHealthCenter
            | CommunityHealthCenter
            | CommunityHealthStation
            | PrivateClinic => CareLevel::Primary,
            CountyGeneralHospital | CountyTcmHospital | MaternalChildHospital => CareLevel::County,
            CityHospital => CareLevel::City,
            TertiaryHospital => CareLevel::Tertiary,
            Cdc => CareLevel::PublicHealth,
        }
    }

    /// Whether this kind counts as primary care (基层医疗卫生机构).
    pub fn is_primary(self) -> bool {
        matches!(self.care_level(), CareLevel::Village | CareLevel::Primary)
    }

    /// The region level an institution of this kind is registered at: a
    /// village clinic in a village, a township center in a township, a county
    /// hospital in a county (or city district), and so on.
    pub fn allowed_region_levels(self) -> &'static [RegionLevel] {
        use InstitutionKind::*;
        match self {
            VillageClinic => &[RegionLevel::Village],
            TownshipHealthCenter | CommunityHealthCenter => &[RegionLevel::Township],
            CommunityHealthStation | PrivateClinic => {
                &[RegionLevel::Township, RegionLevel::Village]
            }
            CountyGeneralHospital | CountyTcmHospital | MaternalChildHospital | Cdc => {
                &[RegionLevel::County, RegionLevel::City]
            }
            CityHospital | TertiaryHospital => &[
                RegionLevel::County,
                RegionLevel::City,
                RegionLevel::Province,
            ],
        }
    }
}

/// 机构所在区划核对 — refuses an institution placed at a region level its kind
/// does not serve.
pub fn check_institution_region(
    kind: InstitutionKind,
    level: RegionLevel,
) -> Result<(), FieldError> {
    if kind.allowed_region_levels().contains(&level) {
        Ok(())
    } else {
        Err(FieldError::new(
            "region_code",
            format!("{}不应登记在{}级区划", kind.label_zh(), level.label_zh()),
            format!(
                "a {} is not registered at {} level",
                kind.as_str(),
                level.as_str()
            ),
        ))
    }
}

vocabulary!(
    /// 医院等级 — hospital grade (一级/二级/三级, 甲/乙).
    Grade {
        Level1 = "1": "一级",
        Level2B = "2B": "二级乙等",
        Level2A = "2A": "二级甲等",
        Level3B = "3B": "三级乙等",
        Level3A = "3A": "三级甲等",
    }
);

impl Grade {
    /// Grade II or above (二级及以上), used by planning indicators.
    pub fn is_level2_or_above(self) -> bool {
        !matches!(self, Grade::Level1)
    }
}

vocabulary!(
    /// 举办性质 — public or private ownership.
    Ownership {
        Public = "public": "公立",
        Private = "private": "民营",
    }
);

vocabulary!(
    /// 床位类别 — bed types.
    BedType {
        General = "general": "普通床位",
        Icu = "icu": "重症监护床位",
        Rehabilitation = "rehabilitation": "康复床位",
        Psychiatric = "psychiatric": "精神科床位",
        Tcm = "tcm": "中医床位",
    }
);

vocabulary!(
    /// 执业类别 — practitioner profession.
    Profession {
        LicensedPhysician = "licensed_physician": "执业医师",
        AssistantPhysician = "assistant_physician": "执业助理医师",
        VillageDoctor = "village_doctor": "乡村医生",
        RegisteredNurse = "registered_nurse": "注册护士",
        Pharmacist = "pharmacist": "药师",
        PublicHealthPhysician = "public_health_physician": "公共卫生医师",
        Technician = "technician": "医技人员",
    }
);

vocabulary!(
    /// 服务能力 — services and capabilities, including the five emergency
    /// centers (五大中心), fever clinic and TCM hall, and a CDC's standardized
    /// infrastructure (疾控机构标准化基础设施, a planning indicator).
    Service {
        ChestPainCenter = "chest_pain_center": "胸痛中心",
        StrokeCenter = "stroke_center": "卒中中心",
        TraumaCenter = "trauma_center": "创伤中心",
        CriticalMaternalCenter = "critical_maternal_center": "危重孕产妇救治中心",
        CriticalNeonatalCenter = "critical_neonatal_center": "危重儿童和新生儿救治中心",
        FeverClinic = "fever_clinic": "发热门诊",
        TcmHall = "tcm_hall": "中医馆",
        InfectiousDiseaseDept = "infectious_disease_dept": "感染性疾病科",
        TcmDept = "tcm_dept": "中医科",
        GeriatricsDept = "geriatrics_dept": "老年医学科",
        RehabilitationDept = "rehabilitation_dept": "康复医学科",
        RemoteImaging = "remote_imaging": "远程影像诊断",
        RemoteEcg = "remote_ecg": "远程心电诊断",
        ClinicalLab = "clinical_lab": "检验科",
        StandardizedInfrastructure = "standardized_infrastructure": "标准化基础设施",
    }
);

vocabulary!(
    /// 医联体类型 — consortium kind.
    ConsortiumKind {
        CountyConsortium = "county_consortium": "紧密型县域医共体",
        CityGroup = "city_group": "城市医疗集团",
        SpecialtyAlliance = "specialty_alliance": "专科联盟",
        TelemedicineNetwork = "telemedicine_network": "远程医疗协作网",
    }
);

vocabulary!(
    /// 团队角色 — a member's role in a family doctor team.
    TeamRole {
        Lead = "lead": "团队长（全科医生）",
        Gp = "gp": "全科医生",
        Nurse = "nurse": "护士",
        VillageDoctor = "village_doctor": "乡村医生",
        Specialist = "specialist": "专科医生",
        PublicHealth = "public_health": "公卫人员",
        Pharmacist = "pharmacist": "药师",
    }
);

vocabulary!(
    /// 医保类型 — insurance scheme.
    Insurance {
        Employee = "employee": "职工医保",
        Resident = "resident": "城乡居民医保",
        Uninsured = "none": "未参保",
    }
);

/// Counts per vocabulary entry (beds by type, staff by profession), refusing
/// negative or absurd values.
pub fn check_counts(
    field: &'static str,
    counts: &[(String, i64)],
    known: impl Fn(&str) -> bool,
) -> Result<(), FieldError> {
    for (k, v) in counts {
        if !known(k) {
            return Err(FieldError::new(
                field,
                format!("未知类别 {k}"),
                format!("unknown key {k:?}"),
            ));
        }
        if !(0..=100_000).contains(v) {
            return Err(FieldError::new(
                field,
                format!("{k} 的数量应在0到100000之间"),
                format!("count for {k} must be 0..=100000"),
            ));
        }
    }
    Ok(())
}

/// 家庭医生团队构成 — a team has exactly one lead, who is a GP (全科) physician
/// (执业医师 or 执业助理医师); the default capacity of a team is its members'
/// per-profession caps, configured by the contracting issue.
pub fn check_team_lead(lead_is_gp: bool, lead_profession: Profession) -> Result<(), FieldError> {
    let physician = matches!(
        lead_profession,
        Profession::LicensedPhysician | Profession::AssistantPhysician
    );
    if lead_is_gp && physician {
        Ok(())
    } else {
        Err(FieldError::new(
            "lead_practitioner_id",
            "团队长须为全科执业（助理）医师",
            "a team lead must be a GP licensed or assistant physician",
        ))
    }
}

/// Geographic position, WGS-84 degrees, checked to lie in China's bounding box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
}

impl Location {
    pub fn parse(lon: f64, lat: f64) -> Result<Location, FieldError> {
        if (73.0..=136.0).contains(&lon) && (3.0..=54.0).contains(&lat) {
            Ok(Location { lon, lat })
        } else {
            Err(FieldError::new(
                "location",
                "坐标不在中国境内",
                "coordinates lie outside China",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips_and_names_allowed_values() {
        for k in InstitutionKind::ALL {
            assert_eq!(InstitutionKind::parse(k.as_str()), Some(*k));
        }
        let e = InstitutionKind::parse_field("kind", "hospital").unwrap_err();
        assert!(e.en.contains("village_clinic"));
    }

    #[test]
    fn kinds_sit_at_their_region_level() {
        assert!(
            check_institution_region(InstitutionKind::VillageClinic, RegionLevel::Village).is_ok()
        );
        assert!(
            check_institution_region(InstitutionKind::VillageClinic, RegionLevel::County).is_err()
        );
        assert!(
            check_institution_region(InstitutionKind::TownshipHealthCenter, RegionLevel::Township)
                .is_ok()
        );
        assert!(InstitutionKind::TownshipHealthCenter.is_primary());
        assert!(!InstitutionKind::CountyGeneralHospital.is_primary());
    }

    #[test]
    fn team_lead_must_be_a_gp_physician() {
        assert!(check_team_lead(true, Profession::LicensedPhysician).is_ok());
        assert!(check_team_lead(false, Profession::LicensedPhysician).is_err());
        assert!(check_team_lead(true, Profession::RegisteredNurse).is_err());
    }

    #[test]
    fn counts_are_bounded() {
        let known = |k: &str| BedType::parse(k).is_some();
        assert!(check_counts("beds", &[("general".into(), 120)], known).is_ok());
        assert!(check_counts("beds", &[("general".into(), -1)], known).is_err());
        assert!(check_counts("beds", &[("sofa".into(), 1)], known).is_err());
    }
}
