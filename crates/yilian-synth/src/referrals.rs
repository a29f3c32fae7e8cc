//! 双向转诊 — a year of two-way referrals for the generated residents: one
//! list of [`ReferralRow`]s per resident row, decided from the row, its
//! [`CareRow`] (contract and chronic-programme follow-ups) and the county.
//!
//! Every draw comes from a ChaCha8 stream seeded by a hash of the spec's seed
//! (its own stage, so referrals never shift the care draws) and the row's
//! key; whether a resident has any referral at all is decided from the hash
//! alone, so the 96 % without one cost a few nanoseconds.
//!
//! Each referral is built by walking the domain's state machine
//! ([`yilian_domain::referral::transition`]) step by step with the time of
//! each step; the walk stops at the cut-off, the start of `spec.today` (China
//! Standard Time), so whatever would happen later has not happened yet and a
//! referral of the last weeks may still be open. Deadlines are
//! [`response_deadline`] under [`ResponseLimits::default`], priorities
//! [`priority_rank`], contracted status [`priority_of`] on the submission
//! day, and hypertension referrals follow [`hypertension_trigger`] on the
//! resident's own follow-up readings.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use yilian_domain::access::Role;
use yilian_domain::chronic::{Program, bp_controlled, glucose_controlled};
use yilian_domain::contract::{ContractFacts, ContractStatus, default_end, priority_of};
use yilian_domain::icd10::{Icd10Code, ReferralCatalog};
use yilian_domain::referral::{
    Direction, FOLLOW_UP_AFTER_REFERRAL_DAYS, GreenChannel, ReferralEvent, ReferralFacts,
    ReferralState, ResponseLimits, Side, Trigger, Urgency, hypertension_trigger, priority_rank,
    response_deadline, transition,
};
use yilian_domain::resident::{KeyPopulation, age_on, key_populations};

use crate::care::{Adherence, CareRow, ContractRow, EnrolmentRow};
use crate::rng::{Stage, chance, mix64, unit};
use crate::{County, CountySpec, InstitutionKind, ResidentRow, Service, Sex};

/// Minutes per appointment slot (号源时长).
pub const SLOT_MINUTES: i64 = 15;
/// A referral nobody answered is closed by the platform (`expire`) this many
/// days after submission.
pub const UNANSWERED_EXPIRE_DAYS: i64 = 30;
/// A scheduled referral whose patient never came is closed by the platform
/// this many days after the appointment.
pub const NO_SHOW_EXPIRE_DAYS: i64 = 7;

/// One referral (转诊单) with its event trail and, if it was scheduled, its
/// appointment.
///
/// **Volumes.** Up-referrals (上转) per resident and year — a Poisson count
/// with the highest applicable rate: 1.5 % for the general population, 3 %
/// for children 0–6, 5 % at 65 and over, 8 % for residents enrolled in a
/// chronic programme, 10 % for pregnant women. About 60 % of a chronic
/// patient's referrals come from the programme: for hypertension the
/// primary-care guideline's triggers on the patient's own readings
/// ([`hypertension_trigger`]: emergency for ≥ 180/110 with symptoms, 20 %
/// of crisis readings; routine after ≥ 2 months above target on regular
/// treatment), for diabetes poor control or a complication, for COPD an
/// exacerbation. Pregnant women's referrals are obstetric (O codes) three
/// times in four, children's paediatric (P codes in the first 28 days).
///
/// **Where.** From the resident's village clinic or community station (about
/// half of routine referrals, fewer of urgent ones) or township / community
/// health centre; to the county general hospital mostly, the county TCM
/// hospital (orthopaedics), the maternal and child health hospital
/// (pregnancy, children) or the tertiary hospital (cancer, neurosurgery,
/// congenital heart disease) — the one the resident's "1+1+1" contract names.
/// A green-channel emergency goes to an institution with the centre.
///
/// **Urgency.** By diagnosis (about 80 % routine, 15 % urgent, 5 %
/// emergency overall); an emergency carries the green-channel category of its
/// diagnosis (chest pain I20/I21, stroke I61/I63, trauma S, critical maternal
/// O, critical child P/R56/J18/J21), except a hypertensive emergency (I10),
/// which has no centre.
///
/// **Outcomes** (of routine and urgent referrals): 88.5 % completed
/// (accepted → scheduled → arrived → completed; for an emergency the green
/// channel books the reception at once, for the quarter hour the ambulance
/// is expected), 5 % declined with a reason — half of them (beds
/// full, technique unavailable; every declined emergency) redirected at once
/// as a new referral to another hospital ([`ReferralRow::redirected_from`]) —
/// 4 % cancelled by the referring side (before the answer, after acceptance
/// or after scheduling), 2.5 % expired (unanswered for
/// [`UNANSWERED_EXPIRE_DAYS`], or no-show [`NO_SHOW_EXPIRE_DAYS`] after the
/// appointment). Emergencies: 96 % completed, 2 % declined, 2 % cancelled.
/// Referrals of the last two to three weeks (unanswered ones: the last
/// month) are still open where their next step falls after the cut-off.
///
/// **Response** (submitted → accepted or declined): log-normal — emergency
/// median 6 min, urgent 25 min, routine 5 h (answered in office hours,
/// 08:00–18:00, so up to about two days) — plus a tail past the configured
/// limit ([`ResponseLimits::default`]): 3 % of emergency and urgent, 5 % of
/// routine answers come 1.05–4 times the limit late; with the unanswered
/// ones of the last month this keeps a few referrals overdue at any time
/// (about 5 per 100,000 residents), so the overdue list is not empty.
///
/// **Downward and lateral.** 35 % of up-referrals completed at the county
/// general hospital are followed, 3–14 days later (the hospital stay), by a
/// downward referral (下转) to the resident's township or community health
/// centre with a discharge summary and a follow-up plan; the centre accepts
/// it (median 3 h), books the first follow-up within
/// [`FOLLOW_UP_AFTER_REFERRAL_DAYS`] and sees the patient (92 %; 3 %
/// cancelled by the hospital, 5 % no-show). 30 % of the other completed
/// stroke, trauma and orthopaedic cases go laterally (平转) 2–10 days later to
/// the county TCM hospital for rehabilitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralRow {
    pub direction: Direction,
    pub urgency: Urgency,
    pub green_channel: Option<GreenChannel>,
    /// Institution codes of the county.
    pub from_code: String,
    pub to_code: String,
    pub to_department: String,
    pub icd10: Icd10Code,
    pub diagnosis: String,
    pub reason: String,
    /// Stated when a rule asks for one: conditions primary care usually
    /// manages (the first-contact and do-not-refer-up lists) and hospitals
    /// outside the consortium.
    pub justification: Option<String>,
    /// 病情摘要, or for a downward referral the discharge summary.
    pub summary: String,
    pub results: String,
    /// The follow-up plan (downward referrals).
    pub follow_up_plan: String,
    /// The resident had a contract in force on the submission day
    /// ([`priority_of`]); `team_code` is its team.
    pub contracted: bool,
    pub team_code: Option<String>,
    /// [`priority_rank`] of the urgency and `contracted`.
    pub priority: u8,
    /// The facts of [`ReferralFacts`] the platform establishes from the
    /// registries and the contract (see [`ReferralRow::facts`]).
    pub same_consortium: bool,
    pub to_has_centre: bool,
    pub outside_combination: bool,
    pub by_family_doctor: bool,
    /// China Standard Time, like the store's referral times.
    pub submitted_at: NaiveDateTime,
    pub deadline_at: NaiveDateTime,
    /// The state the events lead to.
    pub state: ReferralState,
    pub decline_reason: Option<String>,
    /// Index (in the resident's list) of the declined referral this one
    /// redirects.
    pub redirected_from: Option<usize>,
    /// Index of the completed up-referral a downward or lateral one follows.
    pub follows: Option<usize>,
    /// From `submit` on, in time order.
    pub events: Vec<ReferralEventRow>,
    pub appointment: Option<ReferralAppointment>,
}

/// One step of a referral's trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralEventRow {
    /// China Standard Time.
    pub at: NaiveDateTime,
    pub event: ReferralEvent,
    pub from: ReferralState,
    pub to: ReferralState,
    pub side: Side,
    /// The role that acted; `None` for the platform.
    pub role: Option<Role>,
    /// The reason of a decline or cancellation, or the platform's note.
    pub note: String,
}

/// The slot booked when a referral was scheduled, at the receiving
/// institution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralAppointment {
    /// China Standard Time, on the 15-minute grid of 08:00–11:30 and
    /// 14:30–17:00.
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    /// When it was booked (the `schedule` event).
    pub booked_at: NaiveDateTime,
    /// Up-referrals book slots of the referral quota.
    pub reserved_for_referral: bool,
    pub status: AppointmentStatus,
    /// When the status last changed.
    pub updated_at: NaiveDateTime,
}

/// 预约状态 — as the store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    Attended,
    Cancelled,
    NoShow,
}

impl AppointmentStatus {
    /// `booked`, `attended`, `cancelled` or `no_show`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::Attended => "attended",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::NoShow => "no_show",
        }
    }
}

impl ReferralRow {
    /// The facts the submission rules ([`yilian_domain::referral::check_referral`])
    /// look at, with the catalogue deciding the first-contact and
    /// do-not-refer-up matches.
    pub fn facts(&self, catalog: &ReferralCatalog) -> ReferralFacts {
        ReferralFacts {
            direction: Some(self.direction),
            urgency: Some(self.urgency),
            green_channel: self.green_channel,
            to_has_centre: self.to_has_centre,
            first_contact: catalog
                .first_contact_match(&self.icd10)
                .map(|e| e.name.clone()),
            no_refer_up: catalog
                .no_refer_up_match(&self.icd10)
                .map(|e| e.name.clone()),
            same_consortium: self.same_consortium,
            outside_combination: self.outside_combination,
            by_family_doctor: self.by_family_doctor,
            has_discharge_summary: !self.summary.trim().is_empty(),
            has_follow_up_plan: !self.follow_up_plan.trim().is_empty(),
            justification: self.justification.clone(),
        }
    }

    /// The receiving side's answer (`accept` or `decline`) and its time.
    pub fn response(&self) -> Option<&ReferralEventRow> {
        self.events
            .iter()
            .find(|e| matches!(e.event, ReferralEvent::Accept | ReferralEvent::Decline))
    }
}

// ---------------------------------------------------------------- diagnoses

/// A diagnosis group: the hospital treatment and the follow-up plan of its
/// discharge summary, and whether rehabilitation follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Cardio,
    Stroke,
    Hypertension,
    Diabetes,
    Copd,
    Medical,
    Surgery,
    Trauma,
    Ortho,
    Obstetric,
    Paediatric,
    Cancer,
}

impl Group {
    fn treatment(self) -> &'static str {
        match self {
            Group::Cardio => "经冠脉评估及规范药物治疗",
            Group::Stroke => "经急性期治疗及早期康复训练",
            Group::Hypertension => "经完善靶器官评估并调整降压方案",
            Group::Diabetes => "经调整降糖方案及并发症评估",
            Group::Copd => "经抗感染、解痉平喘及氧疗",
            Group::Medical => "经对症及规范治疗",
            Group::Surgery => "经手术治疗",
            Group::Trauma => "经手术复位内固定治疗",
            Group::Ortho => "经微创手术及康复治疗",
            Group::Obstetric => "经产科规范处理，母婴平安",
            Group::Paediatric => "经规范治疗",
            Group::Cancer => "经多学科会诊及手术治疗",
        }
    }

    fn plan(self) -> &'static str {
        match self {
            Group::Cardio => {
                "规律服用抗血小板药物及他汀类药物，监测血压、心率；2周内家庭医生随访，1个月后心内科门诊复诊"
            }
            Group::Stroke => {
                "坚持肢体及语言康复训练，控制血压、血糖、血脂，规律服用抗血小板药物；家庭医生每2周随访，3个月后神经内科复诊"
            }
            Group::Hypertension => {
                "按出院方案规律服用降压药，每日家庭自测血压并记录；2周内家庭医生随访，达标后按慢病管理规范随访"
            }
            Group::Diabetes => {
                "规律使用降糖药物，监测空腹及餐后血糖，控制饮食、适量运动；2周内家庭医生随访，3个月后复查糖化血红蛋白"
            }
            Group::Copd => {
                "规律使用吸入制剂，戒烟，坚持呼吸功能锻炼；2周内家庭医生随访，气促加重及时复诊"
            }
            Group::Medical => "按出院医嘱规律用药；2周内家庭医生随访，1个月后专科门诊复诊",
            Group::Surgery => "注意伤口护理，2周内到基层医疗机构换药拆线，1个月后外科门诊复查",
            Group::Trauma | Group::Ortho => {
                "循序渐进进行功能锻炼，预防跌倒；家庭医生2周内随访，4周后骨科门诊复查X线片"
            }
            Group::Obstetric => {
                "产后访视：出院后7天内及28天由基层医疗机构上门访视，产后42天到医院复查"
            }
            Group::Paediatric => "注意喂养及护理，1周内基层儿童保健复查，如有发热、抽搐等及时就诊",
            Group::Cancer => "按肿瘤科方案定期复查，加强营养及疼痛管理；家庭医生每2周随访",
        }
    }

    /// Rehabilitation follows the acute treatment (lateral referral to the
    /// county TCM hospital).
    fn rehab(self) -> bool {
        matches!(self, Group::Stroke | Group::Trauma | Group::Ortho)
    }
}

/// A diagnosis as a referral names it.
#[derive(Debug)]
struct DxSpec {
    code: &'static str,
    name: &'static str,
    dept: &'static str,
    group: Group,
    /// Weights of routine, urgent, emergency.
    urgency: [u32; 3],
    /// The green-channel category of an emergency.
    channel: Option<GreenChannel>,
    /// Weights of the county general, county TCM, maternal and child
    /// health, and tertiary hospitals.
    to: [u32; 4],
    /// Weights by age: 7–17, 18–44, 45–64, 65+ (general pool only).
    ages: [u32; 4],
    sex: Option<Sex>,
    /// The justification stated for a condition primary care usually
    /// manages (on the first-contact or do-not-refer-up list).
    justify: Option<&'static str>,
    reason: &'static str,
    results: &'static str,
    /// The diagnosis of the downward referral after the hospital stay.
    down: (&'static str, &'static str),
}

const NO_AGES: [u32; 4] = [0, 0, 0, 0];
const Z09: (&str, &str) = ("Z09.8", "其他情况治疗后的随诊检查");
const Z48: (&str, &str) = ("Z48.8", "其他特指的手术后随诊医疗");
const Z47: (&str, &str) = ("Z47.8", "其他特指的矫形外科随诊医疗");
const Z39: (&str, &str) = ("Z39.2", "产后常规随诊");

/// The general pool (ages 7 and over), weighted by age band.
const GENERAL: &[DxSpec] = &[
    DxSpec {
        code: "I20.0",
        name: "不稳定型心绞痛",
        dept: "心血管内科",
        group: Group::Cardio,
        urgency: [80, 17, 3],
        channel: Some(GreenChannel::ChestPain),
        to: [85, 0, 0, 15],
        ages: [0, 1, 6, 10],
        sex: None,
        justify: None,
        reason: "反复胸闷胸痛，含服硝酸甘油可缓解，疑不稳定型心绞痛",
        results: "心电图：V4–V6导联ST段压低0.1 mV",
        down: ("I25.1", "动脉粥样硬化性心脏病"),
    },
    DxSpec {
        code: "I21.9",
        name: "急性心肌梗死",
        dept: "心血管内科",
        group: Group::Cardio,
        urgency: [0, 50, 50],
        channel: Some(GreenChannel::ChestPain),
        to: [80, 0, 0, 20],
        ages: [0, 1, 1, 2],
        sex: None,
        justify: None,
        reason: "持续性胸痛超过30分钟伴大汗，疑急性心肌梗死",
        results: "心电图：II、III、aVF导联ST段抬高；肌钙蛋白阳性",
        down: ("I25.2", "陈旧性心肌梗死"),
    },
    DxSpec {
        code: "I48.9",
        name: "心房颤动",
        dept: "心血管内科",
        group: Group::Cardio,
        urgency: [75, 25, 0],
        channel: None,
        to: [90, 0, 0, 10],
        ages: [0, 0, 2, 5],
        sex: None,
        justify: None,
        reason: "心悸、心律绝对不齐，需评估抗凝及复律",
        results: "心电图：心房颤动，心室率112次/分",
        down: ("I48.9", "心房颤动"),
    },
    DxSpec {
        code: "I50.9",
        name: "心力衰竭",
        dept: "心血管内科",
        group: Group::Cardio,
        urgency: [75, 25, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 0, 1, 6],
        sex: None,
        justify: None,
        reason: "活动后气促加重伴双下肢水肿",
        results: "BNP 1250 pg/mL；胸片：心影增大",
        down: ("I50.9", "心力衰竭"),
    },
    DxSpec {
        code: "I63.9",
        name: "脑梗死",
        dept: "神经内科",
        group: Group::Stroke,
        urgency: [60, 25, 15],
        channel: Some(GreenChannel::Stroke),
        to: [90, 5, 0, 5],
        ages: [0, 0, 5, 12],
        sex: None,
        justify: None,
        reason: "突发一侧肢体无力、言语不清，疑急性脑梗死",
        results: "NIHSS评分6分；头颅CT未见出血",
        down: ("I69.3", "脑梗死后遗症"),
    },
    DxSpec {
        code: "I61.9",
        name: "脑出血",
        dept: "神经外科",
        group: Group::Stroke,
        urgency: [0, 30, 70],
        channel: Some(GreenChannel::Stroke),
        to: [70, 0, 0, 30],
        ages: [0, 0, 1, 2],
        sex: None,
        justify: None,
        reason: "突发剧烈头痛、呕吐伴意识障碍，疑脑出血",
        results: "GCS评分11分；血压196/112 mmHg",
        down: ("I69.1", "脑出血后遗症"),
    },
    DxSpec {
        code: "K80.1",
        name: "胆囊结石伴胆囊炎",
        dept: "普通外科",
        group: Group::Surgery,
        urgency: [85, 15, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 4, 6, 4],
        sex: None,
        justify: None,
        reason: "反复右上腹痛，B超示胆囊结石，拟手术治疗",
        results: "腹部B超：胆囊多发结石，胆囊壁增厚",
        down: Z48,
    },
    DxSpec {
        code: "K35.8",
        name: "急性阑尾炎",
        dept: "普通外科",
        group: Group::Surgery,
        urgency: [10, 90, 0],
        channel: None,
        to: [100, 0, 0, 0],
        ages: [1, 1, 1, 0],
        sex: None,
        justify: None,
        reason: "转移性右下腹痛伴发热，疑急性阑尾炎",
        results: "血白细胞14.2×10⁹/L，中性粒细胞86%",
        down: Z48,
    },
    DxSpec {
        code: "K40.9",
        name: "腹股沟疝",
        dept: "普通外科",
        group: Group::Surgery,
        urgency: [100, 0, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [1, 4, 5, 5],
        sex: None,
        justify: None,
        reason: "腹股沟区可复性包块，拟择期手术",
        results: "查体：右侧腹股沟区包块，平卧可回纳",
        down: Z48,
    },
    DxSpec {
        code: "N20.0",
        name: "肾结石",
        dept: "泌尿外科",
        group: Group::Surgery,
        urgency: [85, 15, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 5, 5, 2],
        sex: None,
        justify: None,
        reason: "反复腰痛伴血尿，B超示肾结石",
        results: "泌尿系B超：左肾结石约1.2 cm",
        down: Z48,
    },
    DxSpec {
        code: "N40",
        name: "前列腺增生",
        dept: "泌尿外科",
        group: Group::Surgery,
        urgency: [100, 0, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 0, 2, 5],
        sex: Some(Sex::Male),
        justify: Some("排尿困难进行性加重，药物治疗3个月效果不佳，需评估手术"),
        reason: "排尿困难、夜尿增多，药物治疗效果不佳",
        results: "前列腺B超：体积约58 mL，残余尿90 mL",
        down: Z48,
    },
    DxSpec {
        code: "D25.9",
        name: "子宫平滑肌瘤",
        dept: "妇科",
        group: Group::Surgery,
        urgency: [100, 0, 0],
        channel: None,
        to: [60, 0, 40, 0],
        ages: [0, 3, 3, 0],
        sex: Some(Sex::Female),
        justify: None,
        reason: "月经量增多伴贫血，B超示子宫肌瘤",
        results: "妇科B超：子宫肌瘤约5 cm",
        down: Z48,
    },
    DxSpec {
        code: "I83.9",
        name: "下肢静脉曲张",
        dept: "血管外科",
        group: Group::Surgery,
        urgency: [100, 0, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 3, 4, 3],
        sex: None,
        justify: Some("下肢静脉曲张伴皮肤色素沉着，保守治疗无效，需手术评估"),
        reason: "下肢静脉迂曲扩张伴酸胀，拟手术治疗",
        results: "下肢血管超声：大隐静脉瓣膜功能不全",
        down: Z48,
    },
    DxSpec {
        code: "E04.1",
        name: "甲状腺结节",
        dept: "甲状腺乳腺外科",
        group: Group::Surgery,
        urgency: [100, 0, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 3, 3, 1],
        sex: None,
        justify: Some("超声提示可疑恶性结节，需穿刺活检明确性质"),
        reason: "甲状腺结节，超声TI-RADS 4a类，需进一步诊治",
        results: "甲状腺超声：右叶结节1.5 cm，TI-RADS 4a类",
        down: Z48,
    },
    DxSpec {
        code: "K92.2",
        name: "消化道出血",
        dept: "消化内科",
        group: Group::Medical,
        urgency: [0, 100, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 1, 1, 1],
        sex: None,
        justify: None,
        reason: "黑便伴头晕乏力，疑上消化道出血",
        results: "血红蛋白82 g/L；大便隐血阳性",
        down: Z09,
    },
    DxSpec {
        code: "J18.9",
        name: "肺炎",
        dept: "呼吸与危重症医学科",
        group: Group::Medical,
        urgency: [75, 25, 0],
        channel: None,
        to: [100, 0, 0, 0],
        ages: [1, 1, 1, 6],
        sex: None,
        justify: Some("高龄合并基础疾病，基层抗感染治疗3天效果不佳"),
        reason: "发热咳嗽，基层抗感染治疗3天效果不佳",
        results: "胸片：右下肺斑片状阴影；血白细胞13.5×10⁹/L",
        down: Z09,
    },
    DxSpec {
        code: "H25.9",
        name: "老年性白内障",
        dept: "眼科",
        group: Group::Surgery,
        urgency: [100, 0, 0],
        channel: None,
        to: [90, 0, 0, 10],
        ages: [0, 0, 2, 8],
        sex: None,
        justify: Some("视力明显下降影响生活，需白内障手术治疗"),
        reason: "双眼视力进行性下降，需手术治疗",
        results: "视力：右眼0.2，左眼0.3",
        down: Z48,
    },
    DxSpec {
        code: "M51.2",
        name: "腰椎间盘突出",
        dept: "骨科",
        group: Group::Ortho,
        urgency: [100, 0, 0],
        channel: None,
        to: [70, 30, 0, 0],
        ages: [0, 6, 6, 3],
        sex: None,
        justify: None,
        reason: "腰痛伴下肢放射痛，保守治疗无效",
        results: "腰椎MRI：L4/5椎间盘突出",
        down: ("Z50.1", "其他物理治疗"),
    },
    DxSpec {
        code: "M17.9",
        name: "膝关节病",
        dept: "骨科",
        group: Group::Ortho,
        urgency: [100, 0, 0],
        channel: None,
        to: [70, 25, 0, 5],
        ages: [0, 0, 4, 6],
        sex: None,
        justify: Some("膝关节疼痛、活动受限，规范保守治疗半年无效，需评估手术"),
        reason: "膝关节疼痛、活动受限，保守治疗无效",
        results: "膝关节X线：关节间隙变窄，骨赘形成",
        down: ("Z50.1", "其他物理治疗"),
    },
    DxSpec {
        code: "S72.0",
        name: "股骨颈骨折",
        dept: "骨科",
        group: Group::Trauma,
        urgency: [0, 80, 20],
        channel: Some(GreenChannel::Trauma),
        to: [90, 0, 0, 10],
        ages: [0, 0, 1, 5],
        sex: None,
        justify: None,
        reason: "跌倒后髋部疼痛、不能站立，疑股骨颈骨折",
        results: "髋部X线：右股骨颈骨折",
        down: Z47,
    },
    DxSpec {
        code: "S82.2",
        name: "胫骨骨干骨折",
        dept: "骨科",
        group: Group::Trauma,
        urgency: [40, 50, 10],
        channel: Some(GreenChannel::Trauma),
        to: [95, 0, 0, 5],
        ages: [2, 3, 2, 1],
        sex: None,
        justify: None,
        reason: "外伤后小腿肿痛畸形，疑胫骨骨折",
        results: "胫腓骨X线：左胫骨中段骨折",
        down: Z47,
    },
    DxSpec {
        code: "S52.5",
        name: "桡骨下端骨折",
        dept: "骨科",
        group: Group::Trauma,
        urgency: [80, 20, 0],
        channel: Some(GreenChannel::Trauma),
        to: [90, 10, 0, 0],
        ages: [3, 2, 2, 3],
        sex: None,
        justify: None,
        reason: "跌倒手掌撑地后腕部肿痛畸形",
        results: "腕关节X线：桡骨远端骨折",
        down: Z47,
    },
    DxSpec {
        code: "S06.5",
        name: "创伤性硬脑膜下出血",
        dept: "神经外科",
        group: Group::Trauma,
        urgency: [0, 50, 50],
        channel: Some(GreenChannel::Trauma),
        to: [80, 0, 0, 20],
        ages: [0, 1, 1, 1],
        sex: None,
        justify: None,
        reason: "头部外伤后头痛、呕吐，意识逐渐模糊",
        results: "头颅CT：左额颞硬膜下血肿",
        down: ("T90.5", "颅内损伤后遗症"),
    },
    DxSpec {
        code: "K63.5",
        name: "结肠息肉",
        dept: "消化内科",
        group: Group::Surgery,
        urgency: [100, 0, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 3, 5, 4],
        sex: None,
        justify: None,
        reason: "大便潜血阳性，需结肠镜检查及息肉切除",
        results: "大便隐血试验阳性",
        down: Z48,
    },
    DxSpec {
        code: "N18.9",
        name: "慢性肾脏病",
        dept: "肾内科",
        group: Group::Medical,
        urgency: [100, 0, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: [0, 1, 3, 4],
        sex: None,
        justify: None,
        reason: "血肌酐进行性升高，需肾内科评估",
        results: "血肌酐168 μmol/L；eGFR 38 mL/min",
        down: Z09,
    },
    DxSpec {
        code: "G20",
        name: "帕金森病",
        dept: "神经内科",
        group: Group::Medical,
        urgency: [100, 0, 0],
        channel: None,
        to: [90, 0, 0, 10],
        ages: [0, 0, 1, 4],
        sex: None,
        justify: None,
        reason: "静止性震颤、动作迟缓，需明确诊断并制定治疗方案",
        results: "查体：右手静止性震颤，肌张力增高",
        down: ("G20", "帕金森病"),
    },
    DxSpec {
        code: "M16.9",
        name: "髋关节病",
        dept: "骨科",
        group: Group::Ortho,
        urgency: [100, 0, 0],
        channel: None,
        to: [75, 20, 0, 5],
        ages: [0, 0, 2, 3],
        sex: None,
        justify: None,
        reason: "髋关节疼痛、跛行，保守治疗无效，需评估关节置换",
        results: "髋关节X线：股骨头变形，关节间隙消失",
        down: ("Z50.1", "其他物理治疗"),
    },
    DxSpec {
        code: "C34.9",
        name: "肺恶性肿瘤",
        dept: "胸外科",
        group: Group::Cancer,
        urgency: [85, 15, 0],
        channel: None,
        to: [30, 0, 0, 70],
        ages: [0, 0, 2, 3],
        sex: None,
        justify: None,
        reason: "体检发现肺部占位，疑肺癌，需进一步确诊治疗",
        results: "胸部CT：右上肺结节2.3 cm，边缘毛刺",
        down: ("Z08.9", "恶性肿瘤治疗后的随诊检查"),
    },
    DxSpec {
        code: "C16.9",
        name: "胃恶性肿瘤",
        dept: "胃肠外科",
        group: Group::Cancer,
        urgency: [85, 15, 0],
        channel: None,
        to: [40, 0, 0, 60],
        ages: [0, 0, 2, 3],
        sex: None,
        justify: None,
        reason: "上腹不适伴消瘦，胃镜活检提示腺癌",
        results: "胃镜病理：胃窦腺癌",
        down: ("Z08.9", "恶性肿瘤治疗后的随诊检查"),
    },
];

/// Hypertension (besides the guideline triggers): hypertensive heart
/// disease, and the cardiovascular events of [`GENERAL`].
const HYPERTENSION: &[DxSpec] = &[DxSpec {
    code: "I11.9",
    name: "高血压性心脏病",
    dept: "心血管内科",
    group: Group::Hypertension,
    urgency: [90, 10, 0],
    channel: None,
    to: [95, 0, 0, 5],
    ages: NO_AGES,
    sex: None,
    justify: Some("高血压合并心脏结构改变，需上级医院评估并调整治疗方案"),
    reason: "活动后胸闷气短，心脏超声示左心室肥厚",
    results: "心脏超声：室间隔厚度13 mm",
    down: ("I11.9", "高血压性心脏病"),
}];

const DIABETES: &[DxSpec] = &[
    DxSpec {
        code: "E11.2",
        name: "2型糖尿病肾病",
        dept: "内分泌科",
        group: Group::Diabetes,
        urgency: [100, 0, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: NO_AGES,
        sex: None,
        justify: Some("出现糖尿病肾脏并发症，需专科评估调整治疗"),
        reason: "尿微量白蛋白升高、肾功能下降，需调整治疗",
        results: "尿白蛋白/肌酐比86 mg/g；eGFR 52 mL/min",
        down: ("E11.2", "2型糖尿病肾病"),
    },
    DxSpec {
        code: "E11.3",
        name: "2型糖尿病视网膜病变",
        dept: "眼科",
        group: Group::Diabetes,
        urgency: [100, 0, 0],
        channel: None,
        to: [90, 0, 0, 10],
        ages: NO_AGES,
        sex: None,
        justify: Some("出现糖尿病眼部并发症，需眼科专科诊治"),
        reason: "视物模糊，眼底检查示糖尿病视网膜病变",
        results: "眼底照相：视网膜出血点及微血管瘤",
        down: ("E11.3", "2型糖尿病视网膜病变"),
    },
    DxSpec {
        code: "E11.4",
        name: "2型糖尿病周围神经病变",
        dept: "内分泌科",
        group: Group::Diabetes,
        urgency: [100, 0, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: NO_AGES,
        sex: None,
        justify: Some("出现糖尿病神经并发症，需专科评估"),
        reason: "双足麻木刺痛，需评估周围神经病变",
        results: "10 g尼龙丝试验阳性",
        down: ("E11.4", "2型糖尿病周围神经病变"),
    },
    DxSpec {
        code: "E11.5",
        name: "2型糖尿病足",
        dept: "内分泌科",
        group: Group::Diabetes,
        urgency: [75, 25, 0],
        channel: None,
        to: [95, 0, 0, 5],
        ages: NO_AGES,
        sex: None,
        justify: Some("糖尿病足溃疡经久不愈，需专科清创处理"),
        reason: "足部溃疡经久不愈，需专科处理",
        results: "左足第一趾溃疡约2 cm，Wagner 2级",
        down: ("E11.5", "2型糖尿病足"),
    },
    DxSpec {
        code: "E11.1",
        name: "2型糖尿病酮症酸中毒",
        dept: "内分泌科",
        group: Group::Diabetes,
        urgency: [0, 100, 0],
        channel: None,
        to: [100, 0, 0, 0],
        ages: NO_AGES,
        sex: None,
        justify: Some("糖尿病急性并发症，基层不具备救治条件"),
        reason: "血糖显著升高伴恶心呕吐，尿酮体阳性",
        results: "随机血糖26.4 mmol/L；尿酮体+++",
        down: ("E11.9", "2型糖尿病"),
    },
];

/// Poor glycaemic control on regular treatment (a follow-up with HbA1c ≥ 7 %
/// or fasting glucose out of range).
const DIABETES_CONTROL: DxSpec = DxSpec {
    code: "E11.9",
    name: "2型糖尿病",
    dept: "内分泌科",
    group: Group::Diabetes,
    urgency: [100, 0, 0],
    channel: None,
    to: [95, 0, 0, 5],
    ages: NO_AGES,
    sex: None,
    justify: Some("规范治疗3个月以上血糖仍未达标，需上级医院调整降糖方案"),
    reason: "规范服药后血糖仍未达标",
    results: "",
    down: ("E11.9", "2型糖尿病"),
};

const COPD: &[DxSpec] = &[
    DxSpec {
        code: "J44.1",
        name: "慢性阻塞性肺疾病急性加重",
        dept: "呼吸与危重症医学科",
        group: Group::Copd,
        urgency: [50, 50, 0],
        channel: None,
        to: [100, 0, 0, 0],
        ages: NO_AGES,
        sex: None,
        justify: Some("慢阻肺急性加重，基层治疗后症状无缓解"),
        reason: "咳嗽咳痰、气促加重，基层治疗后无缓解",
        results: "指脉氧89%；血气：PaCO₂ 52 mmHg",
        down: ("J44.9", "慢性阻塞性肺疾病"),
    },
    DxSpec {
        code: "J44.0",
        name: "慢性阻塞性肺疾病伴急性下呼吸道感染",
        dept: "呼吸与危重症医学科",
        group: Group::Copd,
        urgency: [50, 50, 0],
        channel: None,
        to: [100, 0, 0, 0],
        ages: NO_AGES,
        sex: None,
        justify: Some("慢阻肺合并感染，需住院抗感染治疗"),
        reason: "慢阻肺合并发热、脓痰，需住院治疗",
        results: "胸片：双肺纹理增粗；CRP 48 mg/L",
        down: ("J44.9", "慢性阻塞性肺疾病"),
    },
];

/// The guideline's hypertension referrals (`Trigger`).
const HYPERTENSION_TRIGGERED: DxSpec = DxSpec {
    code: "I10",
    name: "原发性高血压",
    dept: "心血管内科",
    group: Group::Hypertension,
    urgency: [100, 0, 0],
    channel: None,
    to: [100, 0, 0, 0],
    ages: NO_AGES,
    sex: None,
    justify: Some("按基层高血压防治指南转诊：规范治疗后血压仍未达标或高血压急症"),
    reason: "",
    results: "",
    down: ("I10", "原发性高血压"),
};

const OBSTETRIC: &[DxSpec] = &[
    DxSpec {
        code: "O14.1",
        name: "重度子痫前期",
        dept: "产科",
        group: Group::Obstetric,
        urgency: [0, 60, 40],
        channel: Some(GreenChannel::CriticalMaternal),
        to: [30, 0, 70, 0],
        ages: NO_AGES,
        sex: Some(Sex::Female),
        justify: None,
        reason: "孕晚期血压升高伴蛋白尿、头痛",
        results: "血压168/112 mmHg；尿蛋白++",
        down: Z39,
    },
    DxSpec {
        code: "O44.1",
        name: "前置胎盘伴出血",
        dept: "产科",
        group: Group::Obstetric,
        urgency: [0, 50, 50],
        channel: Some(GreenChannel::CriticalMaternal),
        to: [30, 0, 70, 0],
        ages: NO_AGES,
        sex: Some(Sex::Female),
        justify: None,
        reason: "妊娠晚期无痛性阴道出血",
        results: "产科B超：完全性前置胎盘",
        down: Z39,
    },
    DxSpec {
        code: "O60.0",
        name: "先兆早产",
        dept: "产科",
        group: Group::Obstetric,
        urgency: [0, 60, 40],
        channel: Some(GreenChannel::CriticalMaternal),
        to: [30, 0, 70, 0],
        ages: NO_AGES,
        sex: Some(Sex::Female),
        justify: None,
        reason: "孕32周出现规律宫缩",
        results: "胎心监护：规律宫缩；宫颈管缩短",
        down: Z39,
    },
    DxSpec {
        code: "O42.9",
        name: "胎膜早破",
        dept: "产科",
        group: Group::Obstetric,
        urgency: [0, 80, 20],
        channel: Some(GreenChannel::CriticalMaternal),
        to: [30, 0, 70, 0],
        ages: NO_AGES,
        sex: Some(Sex::Female),
        justify: None,
        reason: "阴道流液，疑胎膜早破",
        results: "阴道液pH试纸阳性",
        down: Z39,
    },
    DxSpec {
        code: "O13",
        name: "妊娠期高血压",
        dept: "产科",
        group: Group::Obstetric,
        urgency: [70, 30, 0],
        channel: None,
        to: [30, 0, 70, 0],
        ages: NO_AGES,
        sex: Some(Sex::Female),
        justify: None,
        reason: "孕中期血压升高，需产科评估",
        results: "血压148/96 mmHg；尿蛋白阴性",
        down: Z39,
    },
    DxSpec {
        code: "O24.4",
        name: "妊娠期糖尿病",
        dept: "产科",
        group: Group::Obstetric,
        urgency: [100, 0, 0],
        channel: None,
        to: [30, 0, 70, 0],
        ages: NO_AGES,
        sex: Some(Sex::Female),
        justify: None,
        reason: "OGTT异常，需产科及内分泌联合管理",
        results: "OGTT：空腹5.6 mmol/L，1小时10.8 mmol/L",
        down: Z39,
    },
    DxSpec {
        code: "O32.1",
        name: "臀先露",
        dept: "产科",
        group: Group::Obstetric,
        urgency: [100, 0, 0],
        channel: None,
        to: [30, 0, 70, 0],
        ages: NO_AGES,
        sex: Some(Sex::Female),
        justify: None,
        reason: "孕36周臀位，需评估分娩方式",
        results: "产科B超：单胎臀位",
        down: Z39,
    },
    DxSpec {
        code: "O99.0",
        name: "妊娠合并贫血",
        dept: "产科",
        group: Group::Obstetric,
        urgency: [100, 0, 0],
        channel: None,
        to: [30, 0, 70, 0],
        ages: NO_AGES,
        sex: Some(Sex::Female),
        justify: None,
        reason: "妊娠合并中度贫血，口服铁剂效果不佳",
        results: "血红蛋白78 g/L",
        down: Z39,
    },
];

/// Children 0–6 (`ages[0]` is the weight); P codes only in the first 28
/// days, febrile seizures from six months.
const PAEDIATRIC: &[DxSpec] = &[
    DxSpec {
        code: "P59.9",
        name: "新生儿黄疸",
        dept: "新生儿科",
        group: Group::Paediatric,
        urgency: [20, 50, 30],
        channel: Some(GreenChannel::CriticalNeonatal),
        to: [30, 0, 70, 0],
        ages: [4, 0, 0, 0],
        sex: None,
        justify: None,
        reason: "生后皮肤黄染进行性加重",
        results: "经皮胆红素16.8 mg/dL",
        down: Z09,
    },
    DxSpec {
        code: "P07.3",
        name: "早产儿",
        dept: "新生儿科",
        group: Group::Paediatric,
        urgency: [0, 40, 60],
        channel: Some(GreenChannel::CriticalNeonatal),
        to: [30, 0, 70, 0],
        ages: [1, 0, 0, 0],
        sex: None,
        justify: None,
        reason: "孕34周早产，吃奶差、呼吸急促",
        results: "出生体重2100 g",
        down: Z09,
    },
    DxSpec {
        code: "J18.9",
        name: "肺炎",
        dept: "儿科",
        group: Group::Paediatric,
        urgency: [45, 45, 10],
        channel: Some(GreenChannel::CriticalNeonatal),
        to: [35, 0, 65, 0],
        ages: [4, 0, 0, 0],
        sex: None,
        justify: Some("患儿年龄小、气促明显，基层不具备儿科住院条件"),
        reason: "发热咳嗽3天伴气促",
        results: "胸片：双肺散在斑片影",
        down: Z09,
    },
    DxSpec {
        code: "J21.9",
        name: "急性毛细支气管炎",
        dept: "儿科",
        group: Group::Paediatric,
        urgency: [50, 45, 5],
        channel: Some(GreenChannel::CriticalNeonatal),
        to: [35, 0, 65, 0],
        ages: [3, 0, 0, 0],
        sex: None,
        justify: None,
        reason: "咳嗽喘息伴呼吸增快",
        results: "指脉氧92%",
        down: Z09,
    },
    DxSpec {
        code: "R56.0",
        name: "热性惊厥",
        dept: "儿科",
        group: Group::Paediatric,
        urgency: [0, 55, 45],
        channel: Some(GreenChannel::CriticalNeonatal),
        to: [35, 0, 65, 0],
        ages: [2, 0, 0, 0],
        sex: None,
        justify: None,
        reason: "发热后抽搐一次，持续约3分钟",
        results: "体温39.6℃",
        down: Z09,
    },
    DxSpec {
        code: "A08.0",
        name: "轮状病毒性肠炎",
        dept: "儿科",
        group: Group::Paediatric,
        urgency: [60, 40, 0],
        channel: None,
        to: [35, 0, 65, 0],
        ages: [3, 0, 0, 0],
        sex: None,
        justify: None,
        reason: "腹泻呕吐伴中度脱水",
        results: "大便轮状病毒抗原阳性",
        down: Z09,
    },
    DxSpec {
        code: "Q21.0",
        name: "室间隔缺损",
        dept: "小儿心脏外科",
        group: Group::Paediatric,
        urgency: [100, 0, 0],
        channel: None,
        to: [0, 0, 30, 70],
        ages: [1, 0, 0, 0],
        sex: None,
        justify: None,
        reason: "体检发现心脏杂音，心超示室间隔缺损",
        results: "心脏超声：膜周部室间隔缺损5 mm",
        down: Z09,
    },
];

/// Every diagnosis table, for the tests.
#[cfg(test)]
fn all_specs() -> impl Iterator<Item = &'static DxSpec> {
    GENERAL
        .iter()
        .chain(HYPERTENSION)
        .chain(DIABETES)
        .chain(COPD)
        .chain(OBSTETRIC)
        .chain(PAEDIATRIC)
        .chain([&DIABETES_CONTROL, &HYPERTENSION_TRIGGERED])
}

/// A code of the tables, parsed (every one parses: tested below).
fn code(s: &str) -> Icd10Code {
    Icd10Code::parse(s).expect("the diagnosis tables hold valid ICD-10 codes")
}

// ---------------------------------------------------------------- helpers

/// An index drawn from integer weights; `None` if they are all zero.
fn weighted<R: Rng>(rng: &mut R, weights: &[u32]) -> Option<usize> {
    let total: u32 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut x = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return Some(i);
        }
        x -= w;
    }
    Some(weights.len() - 1)
}

/// A standard normal draw (Box–Muller).
fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson count with mean `lambda` from one uniform draw, at most `max`.
fn poisson(u: f64, lambda: f64, max: u32) -> u32 {
    let mut p = (-lambda).exp();
    let mut cum = p;
    let mut k = 0;
    while u >= cum && k < max {
        k += 1;
        p *= lambda / f64::from(k);
        cum += p;
    }
    k
}

fn minutes(m: f64) -> Duration {
    Duration::seconds((m * 60.0).round() as i64)
}

fn at(date: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN))
}

/// The appointment grid: 08:00–11:30 and 14:30–17:00 in 15-minute slots.
fn grid_times() -> impl Iterator<Item = (u32, u32)> {
    (0..14)
        .map(|k| (8 * 60 + 15 * k) as u32)
        .chain((0..10).map(|k| (14 * 60 + 30 + 15 * k) as u32))
        .map(|m| (m / 60, m % 60))
}

/// A slot start on `date`: mornings 70 %.
fn grid_slot<R: Rng>(rng: &mut R, date: NaiveDate) -> NaiveDateTime {
    let k = if chance(rng, 0.7) {
        rng.random_range(0..14)
    } else {
        14 + rng.random_range(0..10)
    };
    let (h, m) = grid_times().nth(k).unwrap_or((8, 0));
    at(date, h, m)
}

/// The first slot start at or after `t`.
fn next_slot(t: NaiveDateTime) -> NaiveDateTime {
    for d in 0..3 {
        let date = t.date() + Duration::days(d);
        if let Some(s) = grid_times().map(|(h, m)| at(date, h, m)).find(|s| *s >= t) {
            return s;
        }
    }
    at(t.date() + Duration::days(1), 8, 0)
}

/// Moves a time outside office hours (08:00–18:00) to the next morning,
/// 08:00–09:30.
fn office<R: Rng>(rng: &mut R, t: NaiveDateTime) -> NaiveDateTime {
    let morning = |d: NaiveDate, rng: &mut R| at(d, 8, 0) + minutes(rng.random_range(0.0..90.0));
    match t.hour() {
        0..8 => morning(t.date(), rng).max(t),
        18.. => morning(t.date() + Duration::days(1), rng),
        _ => t,
    }
}

/// A time of day in `from..to` hours (fractional), with seconds.
fn time_of<R: Rng>(rng: &mut R, date: NaiveDate, from: f64, to: f64) -> NaiveDateTime {
    at(date, 0, 0) + minutes(rng.random_range(from * 60.0..to * 60.0))
}

fn sex_zh(s: Sex) -> &'static str {
    match s {
        Sex::Male => "男",
        Sex::Female => "女",
    }
}

// ---------------------------------------------------------------- the trail

/// A referral's trail, built through the domain state machine and cut at
/// the cut-off.
struct Trail {
    cutoff: NaiveDateTime,
    state: ReferralState,
    events: Vec<ReferralEventRow>,
    /// A step fell at or after the cut-off: nothing later has happened.
    closed: bool,
}

impl Trail {
    fn new(cutoff: NaiveDateTime) -> Self {
        Trail {
            cutoff,
            state: ReferralState::Draft,
            events: Vec::new(),
            closed: false,
        }
    }

    /// Records `event` at `t` (at least a minute after the previous step) if
    /// it happened before the cut-off; returns its time if it did.
    fn step(
        &mut self,
        t: NaiveDateTime,
        event: ReferralEvent,
        side: Side,
        role: Option<Role>,
        note: &str,
    ) -> Option<NaiveDateTime> {
        if self.closed {
            return None;
        }
        let t = match self.events.last() {
            Some(last) => t.max(last.at + Duration::minutes(1)),
            None => t,
        };
        if t >= self.cutoff {
            self.closed = true;
            return None;
        }
        let Ok(to) = transition(self.state, event, side) else {
            // Never reached: the flows below only take legal steps (tested).
            debug_assert!(false, "{event:?} from {:?}", self.state);
            self.closed = true;
            return None;
        };
        self.events.push(ReferralEventRow {
            at: t,
            event,
            from: self.state,
            to,
            side,
            role,
            note: note.to_string(),
        });
        self.state = to;
        Some(t)
    }
}

/// How a referral will end, if nothing stops it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Complete,
    Decline(usize),
    /// Cancelled by the referring side: 0 before the answer, 1 after
    /// acceptance, 2 after scheduling.
    Cancel(u8),
    Unanswered,
    NoShow,
}

/// 拒绝原因 — and whether the referring side redirects at once.
const DECLINE_REASONS: [(&str, bool, u32); 4] = [
    ("本院该专科床位已满，建议转往其他医院", true, 30),
    ("本院暂不具备该项诊疗技术条件，建议转往上级医院", true, 20),
    ("经评估病情可在基层继续治疗，建议基层随访观察", false, 30),
    ("转诊资料不全，请补充相关检查结果后重新提交", false, 20),
];

/// 取消原因 of the referring side, by stage.
const CANCEL_REASONS: [&str; 4] = [
    "患者病情好转，暂不需要转诊",
    "患者及家属决定自行前往其他医院就诊",
    "患者因家庭原因拒绝转诊",
    "重复提交，撤回此转诊单",
];

/// What a flow produced besides the trail.
#[derive(Debug, Default)]
struct Run {
    appointment: Option<ReferralAppointment>,
    decline_reason: Option<&'static str>,
    redirect: bool,
    declined_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
}

// ---------------------------------------------------------------- the plan

#[derive(Debug)]
struct Inst<'a> {
    code: &'a str,
    kind: InstitutionKind,
    services: &'a [Service],
}

/// A diagnosis chosen for an episode, with what the episode overrides.
#[derive(Debug)]
struct Pick {
    dx: &'static DxSpec,
    date: NaiveDate,
    urgency: Option<Urgency>,
    diagnosis: Option<String>,
    reason: Option<String>,
    results: Option<String>,
}

/// Everything of one resident the episodes look at.
struct Who<'a> {
    row: &'a ResidentRow,
    care: &'a CareRow,
    /// The village clinic or community station, and the township or
    /// community health centre.
    site: Option<usize>,
    centre: usize,
}

/// Where the resident's tables point, built once per call of [`crate::care`].
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    today: NaiveDate,
    window: NaiveDate,
    cutoff: NaiveDateTime,
    seed: u64,
    limits: ResponseLimits,
    insts: Vec<Inst<'a>>,
    by_code: HashMap<&'a str, usize>,
    /// Village region code → its clinic or station.
    site: HashMap<&'a str, usize>,
    /// Village region code → its township's health centre.
    centre: HashMap<&'a str, usize>,
    /// Member sets (lead included) of the consortia.
    consortia: Vec<HashSet<usize>>,
    /// Team code → its institution.
    team_site: HashMap<&'a str, usize>,
    general: Option<usize>,
    tcm: Option<usize>,
    mch: Option<usize>,
    tertiary: Option<usize>,
}

impl<'a> Plan<'a> {
    pub(crate) fn new(spec: &'a CountySpec, county: &'a County) -> Self {
        let insts: Vec<Inst> = county
            .institutions
            .iter()
            .map(|i| Inst {
                code: &i.code,
                kind: i.kind,
                services: &i.services,
            })
            .collect();
        let by_code: HashMap<&str, usize> =
            insts.iter().enumerate().map(|(k, i)| (i.code, k)).collect();
        let mut site = HashMap::new();
        let mut township_centre: HashMap<&str, usize> = HashMap::new();
        for (k, i) in county.institutions.iter().enumerate() {
            match i.kind {
                InstitutionKind::VillageClinic | InstitutionKind::CommunityHealthStation => {
                    site.insert(i.region_code.as_str(), k);
                }
                InstitutionKind::TownshipHealthCenter | InstitutionKind::CommunityHealthCenter => {
                    township_centre.insert(i.region_code.as_str(), k);
                }
                _ => {}
            }
        }
        let centre = county
            .villages()
            .filter_map(|v| {
                let town = v.parent_code.as_deref()?;
                Some((v.code.as_str(), *township_centre.get(town)?))
            })
            .collect();
        let consortia = county
            .consortia
            .iter()
            .map(|c| {
                std::iter::once(&c.lead_code)
                    .chain(&c.member_codes)
                    .filter_map(|m| by_code.get(m.as_str()).copied())
                    .collect()
            })
            .collect();
        let team_site = county
            .teams
            .iter()
            .filter_map(|t| Some((t.code.as_str(), *by_code.get(t.institution_code.as_str())?)))
            .collect();
        let first = |kind| insts.iter().position(|i| i.kind == kind);
        let cutoff = at(spec.today, 0, 0);
        Plan {
            today: spec.today,
            window: spec.today - Duration::days(365),
            cutoff,
            seed: mix64(spec.seed ^ mix64(Stage::Referrals as u64)),
            limits: ResponseLimits::default(),
            general: first(InstitutionKind::CountyGeneralHospital),
            tcm: first(InstitutionKind::CountyTcmHospital),
            mch: first(InstitutionKind::MaternalChildHospital),
            tertiary: first(InstitutionKind::TertiaryHospital),
            insts,
            by_code,
            site,
            centre,
            consortia,
            team_site,
        }
    }

    /// The referrals of one resident row (none for a duplicate row).
    pub(crate) fn referrals_of(&self, row: &ResidentRow, care: &CareRow) -> Vec<ReferralRow> {
        if row.duplicate_of.is_some() {
            return Vec::new();
        }
        let h = mix64(self.seed ^ mix64(row.key));
        let tags = key_populations(row.birth_date, self.today, &row.tags);
        let has = |t| tags.contains(&t);
        let pregnant = row.sex == Sex::Female && has(KeyPopulation::Pregnant);
        let enrolled = !care.enrolments.is_empty();
        let mut rate: f64 = 0.015;
        for (on, r) in [
            (has(KeyPopulation::Child0To6), 0.03),
            (has(KeyPopulation::Elderly65), 0.05),
            (enrolled, 0.08),
            (pregnant, 0.10),
        ] {
            if on {
                rate = rate.max(r);
            }
        }
        let n = poisson(unit(h), rate, 3);
        if n == 0 {
            return Vec::new();
        }
        let Some(&centre) = self.centre.get(row.region_code.as_str()) else {
            return Vec::new();
        };
        let who = Who {
            row,
            care,
            site: self.site.get(row.region_code.as_str()).copied(),
            centre,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(h.rotate_left(17) ^ 0x5EED));
        let mut out = Vec::new();
        for _ in 0..n {
            let pick = if pregnant && chance(&mut rng, 0.75) {
                self.obstetric(&mut rng)
            } else if has(KeyPopulation::Child0To6) {
                self.paediatric(&mut rng, row)
            } else if enrolled && chance(&mut rng, 0.6) {
                self.programme(&mut rng, &who)
            } else {
                self.general(&mut rng, row, GENERAL)
            };
            if let Some(p) = pick {
                self.episode(&mut rng, &who, p, &mut out);
            }
        }
        out
    }

    // ------------------------------------------------------------ diagnoses

    /// A day of the year before the cut-off, not before `earliest`.
    fn day<R: Rng>(&self, rng: &mut R, earliest: NaiveDate) -> Option<NaiveDate> {
        let lo = earliest.max(self.window);
        let hi = self.today - Duration::days(1);
        let span = (hi - lo).num_days();
        (span >= 0).then(|| lo + Duration::days(rng.random_range(0..=span)))
    }

    fn pick_from<R: Rng>(
        &self,
        rng: &mut R,
        pool: &'static [DxSpec],
        weight: impl Fn(&DxSpec) -> u32,
    ) -> Option<&'static DxSpec> {
        let w: Vec<u32> = pool.iter().map(weight).collect();
        weighted(rng, &w).map(|i| &pool[i])
    }

    fn general<R: Rng>(
        &self,
        rng: &mut R,
        row: &ResidentRow,
        pool: &'static [DxSpec],
    ) -> Option<Pick> {
        let date = self.day(rng, row.birth_date + Duration::days(1))?;
        let band = match age_on(row.birth_date, date) {
            ..7 => return None,
            7..18 => 0,
            18..45 => 1,
            45..65 => 2,
            _ => 3,
        };
        let dx = self.pick_from(rng, pool, |d| {
            if d.sex.is_some_and(|s| s != row.sex) {
                0
            } else {
                d.ages[band]
            }
        })?;
        Some(Pick {
            dx,
            date,
            urgency: None,
            diagnosis: None,
            reason: None,
            results: None,
        })
    }

    fn obstetric<R: Rng>(&self, rng: &mut R) -> Option<Pick> {
        let date = self.day(rng, self.today - Duration::days(240))?;
        let dx = self.pick_from(rng, OBSTETRIC, |_| 1)?;
        Some(Pick {
            dx,
            date,
            urgency: None,
            diagnosis: None,
            reason: None,
            results: None,
        })
    }

    fn paediatric<R: Rng>(&self, rng: &mut R, row: &ResidentRow) -> Option<Pick> {
        // A tenth of the episodes fall in the first four weeks of life.
        let date = if chance(rng, 0.1) {
            let d = row.birth_date + Duration::days(rng.random_range(2..28));
            (d >= self.window && d < self.today).then_some(d)
        } else {
            self.day(rng, row.birth_date + Duration::days(28))
        }?;
        let days = (date - row.birth_date).num_days();
        let dx = self.pick_from(rng, PAEDIATRIC, |d| match d.code.as_bytes()[0] {
            b'P' if days < 28 => d.ages[0],
            b'P' => 0,
            _ if days < 28 => 0,
            _ if d.code == "R56.0" && days < 180 => 0,
            _ => d.ages[0],
        })?;
        Some(Pick {
            dx,
            date,
            urgency: None,
            diagnosis: None,
            reason: None,
            results: None,
        })
    }

    /// An episode of one of the resident's chronic programmes.
    fn programme<R: Rng>(&self, rng: &mut R, who: &Who) -> Option<Pick> {
        let e = &who.care.enrolments[rng.random_range(0..who.care.enrolments.len())];
        let from = e.enrolled_on.max(who.row.birth_date + Duration::days(1));
        match e.program {
            Program::Hypertension => {
                if let Some(p) = self.hypertension_trigger(rng, who.row, e) {
                    return Some(p);
                }
                let date = self.day(rng, from)?;
                let dx = if chance(rng, 0.4) {
                    &HYPERTENSION[0]
                } else {
                    // The cardiovascular events hypertension leads to.
                    let codes = ["I20.0", "I21.9", "I63.9", "I61.9", "I50.9"];
                    let k = weighted(rng, &[35, 5, 25, 5, 10])?;
                    GENERAL.iter().find(|d| d.code == codes[k])?
                };
                Some(Pick {
                    dx,
                    date,
                    urgency: None,
                    diagnosis: None,
                    reason: None,
                    results: None,
                })
            }
            Program::Diabetes => {
                let poor: Vec<_> = e
                    .followups
                    .iter()
                    .filter(|f| f.date >= self.window && f.date < self.today)
                    .filter(|f| {
                        f.adherence == Adherence::Regular
                            && glucose_controlled(f.hba1c, f.fasting_glucose) == Some(false)
                    })
                    .collect();
                if !poor.is_empty() && chance(rng, 0.4) {
                    let f = poor[rng.random_range(0..poor.len())];
                    let results = match (f.hba1c, f.fasting_glucose) {
                        (Some(a), Some(g)) => {
                            format!("随访糖化血红蛋白{a:.1}%，空腹血糖{g:.1} mmol/L")
                        }
                        (Some(a), None) => format!("随访糖化血红蛋白{a:.1}%"),
                        (None, Some(g)) => format!("随访空腹血糖{g:.1} mmol/L"),
                        (None, None) => String::new(),
                    };
                    return Some(Pick {
                        dx: &DIABETES_CONTROL,
                        date: f.date,
                        urgency: Some(Urgency::Routine),
                        diagnosis: Some("2型糖尿病（血糖控制不佳）".into()),
                        reason: None,
                        results: Some(results),
                    });
                }
                let date = self.day(rng, from)?;
                let dx =
                    self.pick_from(rng, DIABETES, |d| if d.code == "E11.1" { 1 } else { 3 })?;
                Some(Pick {
                    dx,
                    date,
                    urgency: None,
                    diagnosis: None,
                    reason: None,
                    results: None,
                })
            }
            Program::Copd => {
                let date = self.day(rng, from)?;
                let dx = self.pick_from(rng, COPD, |d| if d.code == "J44.1" { 3 } else { 1 })?;
                Some(Pick {
                    dx,
                    date,
                    urgency: None,
                    diagnosis: None,
                    reason: None,
                    results: None,
                })
            }
        }
    }

    /// 高血压转诊 — a visit of the year where the guideline's trigger fires
    /// on the patient's own reading: a crisis with symptoms (emergency), or
    /// above target after ≥ 2 months of regular treatment (routine).
    fn hypertension_trigger<R: Rng>(
        &self,
        rng: &mut R,
        row: &ResidentRow,
        e: &EnrolmentRow,
    ) -> Option<Pick> {
        let diabetic = row.tags.contains(&KeyPopulation::Diabetes);
        let mut since: Option<NaiveDate> = None;
        let mut found = Vec::new();
        for f in e
            .followups
            .iter()
            .filter(|f| f.date >= self.window && f.date < self.today)
        {
            let (Some(s), Some(d)) = (f.sbp, f.dbp) else {
                since = None;
                continue;
            };
            let on_target = bp_controlled(s, d, age_on(row.birth_date, f.date), diabetic, false);
            let months = if !on_target && f.adherence == Adherence::Regular {
                let first = *since.get_or_insert(f.date);
                ((f.date - first).num_days() / 30) as u32
            } else {
                since = None;
                0
            };
            let symptoms = (s >= 180 || d >= 110) && chance(rng, 0.2);
            if let Some(t) = hypertension_trigger(s, d, symptoms, months) {
                found.push((f.date, s, d, t, months));
            }
        }
        if found.is_empty() {
            return None;
        }
        let (date, s, d, trigger, months) = found[rng.random_range(0..found.len())];
        let (urgency, diagnosis, reason) = match trigger {
            Trigger::EmergencyUp => (
                Urgency::Emergency,
                "原发性高血压（高血压急症）",
                format!("随访血压{s}/{d} mmHg，伴头痛、胸闷等症状，按指南紧急转诊"),
            ),
            Trigger::RoutineUp => (
                Urgency::Routine,
                "原发性高血压（血压控制不佳）",
                format!("规律服药{months}个月血压仍未达标，按指南转诊调整治疗方案"),
            ),
        };
        Some(Pick {
            dx: &HYPERTENSION_TRIGGERED,
            date,
            urgency: Some(urgency),
            diagnosis: Some(diagnosis.into()),
            reason: Some(reason),
            results: Some(format!("随访血压{s}/{d} mmHg")),
        })
    }

    // ------------------------------------------------------------ episodes

    /// The contract in force on `date`, by [`priority_of`].
    fn contract_on<'c>(&self, care: &'c CareRow, date: NaiveDate) -> Option<&'c ContractRow> {
        let c = care.contract.as_ref()?;
        let facts = ContractFacts {
            id: 0,
            team_id: 0,
            status: ContractStatus::Active,
            start: c.start,
            end: default_end(c.start),
        };
        priority_of(&[facts], date).contracted.then_some(c)
    }

    fn same_consortium(&self, a: usize, b: usize) -> bool {
        self.consortia
            .iter()
            .any(|m| m.contains(&a) && m.contains(&b))
    }

    fn has_centre(&self, to: usize, g: Option<GreenChannel>) -> bool {
        g.is_some_and(|g| {
            self.insts[to]
                .services
                .iter()
                .any(|s| s.as_str() == g.service())
        })
    }

    /// The role that acts for an institution: referring, desk, clinician.
    fn roles(&self, inst: usize) -> (Role, Role, Role) {
        match self.insts[inst].kind {
            InstitutionKind::VillageClinic => (
                Role::VillageDoctor,
                Role::VillageDoctor,
                Role::VillageDoctor,
            ),
            k if k.is_primary() => (
                Role::PrimaryClinician,
                Role::PrimaryClinician,
                Role::PrimaryClinician,
            ),
            _ => (Role::Specialist, Role::ReferralDesk, Role::Specialist),
        }
    }

    /// The receiving hospital: by the diagnosis' weights, among those with
    /// the green-channel centre for an emergency; the tertiary hospital is
    /// the one the contract's "1+1+1" names when it names one.
    fn target<R: Rng>(
        &self,
        rng: &mut R,
        dx: &DxSpec,
        green: Option<GreenChannel>,
        contract: Option<&ContractRow>,
    ) -> Option<usize> {
        let slots = [self.general, self.tcm, self.mch, self.tertiary];
        let w: Vec<u32> = slots
            .iter()
            .zip(dx.to)
            .map(|(i, w)| match i {
                Some(i) if green.is_none() || self.has_centre(*i, green) => w,
                _ => 0,
            })
            .collect();
        let k = weighted(rng, &w)?;
        if k == 3
            && let Some(code) = contract.and_then(|c| c.tertiary_hospital_code.as_deref())
        {
            return self.by_code.get(code).copied().or(slots[3]);
        }
        slots[k]
    }

    fn response<R: Rng>(&self, rng: &mut R, urgency: Urgency, median: f64) -> Duration {
        let limit = match urgency {
            Urgency::Emergency => self.limits.emergency_minutes,
            Urgency::Urgent => self.limits.urgent_minutes,
            Urgency::Routine => self.limits.routine_minutes,
        } as f64;
        let (sigma, late) = match urgency {
            Urgency::Emergency | Urgency::Urgent => (0.6, 0.03),
            Urgency::Routine => (0.9, 0.05),
        };
        if chance(rng, late) {
            minutes(limit * rng.random_range(1.05..4.0))
        } else {
            minutes((median * (sigma * normal(rng)).exp()).clamp(1.0, 0.9 * limit))
        }
    }

    fn fate<R: Rng>(&self, rng: &mut R, urgency: Urgency) -> Fate {
        let w: [u32; 5] = if urgency == Urgency::Emergency {
            [960, 20, 20, 0, 0]
        } else {
            [885, 50, 40, 13, 12]
        };
        match weighted(rng, &w) {
            Some(1) => {
                let reasons: Vec<u32> = DECLINE_REASONS
                    .iter()
                    .map(|(_, redirect, w)| {
                        if urgency == Urgency::Emergency && !redirect {
                            0
                        } else {
                            *w
                        }
                    })
                    .collect();
                Fate::Decline(weighted(rng, &reasons).unwrap_or(0))
            }
            Some(2) => Fate::Cancel(if urgency == Urgency::Emergency {
                1
            } else {
                weighted(rng, &[50, 25, 25]).unwrap_or(0) as u8
            }),
            Some(3) => Fate::Unanswered,
            Some(4) => Fate::NoShow,
            _ => Fate::Complete,
        }
    }

    /// One up-referral episode: the referral, a redirect after a decline,
    /// and the downward or lateral referral after completion.
    fn episode<R: Rng>(&self, rng: &mut R, who: &Who, pick: Pick, out: &mut Vec<ReferralRow>) {
        let dx = pick.dx;
        let urgency = pick
            .urgency
            .unwrap_or_else(|| match weighted(rng, &dx.urgency) {
                Some(1) => Urgency::Urgent,
                Some(2) => Urgency::Emergency,
                _ => Urgency::Routine,
            });
        let green = dx.channel.filter(|_| urgency == Urgency::Emergency);
        let submitted = match urgency {
            Urgency::Emergency => time_of(rng, pick.date, 0.0, 24.0),
            _ => time_of(rng, pick.date, 8.0, 17.5),
        };
        let contract = self.contract_on(who.care, pick.date);
        let Some(to) = self.target(rng, dx, green, contract) else {
            return;
        };
        // Village level for about half of routine referrals, fewer of the
        // urgent ones; the health centre otherwise (and for pregnancies).
        let village_share = match (urgency, dx.group) {
            (_, Group::Obstetric) => 0.2,
            (Urgency::Routine, _) => 0.5,
            (Urgency::Urgent, _) => 0.3,
            (Urgency::Emergency, _) => 0.2,
        };
        let from = match who.site {
            Some(s) if chance(rng, village_share) => s,
            _ => who.centre,
        };
        let age = age_on(who.row.birth_date, pick.date);
        let history: Vec<&str> = who
            .care
            .enrolments
            .iter()
            .filter(|e| e.enrolled_on <= pick.date)
            .map(|e| match e.program {
                Program::Hypertension => "高血压",
                Program::Diabetes => "2型糖尿病",
                Program::Copd => "慢性阻塞性肺疾病",
            })
            .collect();
        let reason = pick.reason.unwrap_or_else(|| dx.reason.to_string());
        let summary = format!(
            "患者{}，{age}岁。{}{reason}。",
            sex_zh(who.row.sex),
            if history.is_empty() {
                String::new()
            } else {
                format!("既往{}病史，规范管理中。", history.join("、"))
            }
        );
        let up = Up {
            dx,
            urgency,
            green,
            diagnosis: pick.diagnosis.unwrap_or_else(|| dx.name.to_string()),
            reason,
            summary,
            results: pick.results.unwrap_or_else(|| dx.results.to_string()),
        };
        let Some((idx, run)) = self.push_up(rng, who, &up, from, to, submitted, None, out) else {
            return;
        };
        let (idx, run) = match (run.redirect, run.declined_at) {
            (true, Some(declined)) => {
                let alt = if Some(to) == self.general {
                    self.tertiary
                } else {
                    self.general
                };
                let Some(alt) = alt.filter(|a| *a != to) else {
                    return;
                };
                let later = declined + minutes(rng.random_range(20.0..600.0));
                let at = office(rng, later);
                match self.push_up(rng, who, &up, from, alt, at, Some(idx), out) {
                    Some(r) => r,
                    None => return,
                }
            }
            _ => (idx, run),
        };
        let Some(done) = run.completed_at else {
            return;
        };
        if Some(out[idx].to_code.as_str()) != self.general.map(|g| self.insts[g].code) {
            return;
        }
        let u: f64 = rng.random();
        if u < 0.35 {
            self.downward(rng, who, dx, idx, done, out);
        } else if dx.group.rehab() && u < 0.35 + 0.65 * 0.30 {
            self.lateral(rng, who, dx, idx, done, out);
        }
    }

    /// Builds and pushes an up-referral; returns its index and run.
    #[allow(clippy::too_many_arguments)]
    fn push_up<R: Rng>(
        &self,
        rng: &mut R,
        who: &Who,
        up: &Up,
        from: usize,
        to: usize,
        submitted: NaiveDateTime,
        redirected_from: Option<usize>,
        out: &mut Vec<ReferralRow>,
    ) -> Option<(usize, Run)> {
        let date = submitted.date();
        let contract = self.contract_on(who.care, date);
        let tertiary = Some(to) == self.tertiary;
        let same = self.same_consortium(from, to);
        let outside = self.outside_combination(to, contract);
        let by_family_doctor = self.by_family_doctor(from, contract);
        // A hospital outside the contract's "1+1+1", referred by another
        // than the family doctor, says why.
        let specialty = match self.insts[to].kind {
            InstitutionKind::MaternalChildHospital => "孕产妇及儿童专科病种，转妇幼保健院诊治",
            InstitutionKind::CountyTcmHospital => "患者要求中医诊治，转县中医院",
            _ => "县级医院诊疗条件有限，需上级医院进一步诊治",
        };
        let justification = [
            up.dx.justify,
            (!same && up.urgency != Urgency::Emergency || tertiary)
                .then_some("县级医院诊疗条件有限，需上级医院进一步诊治"),
            (outside && !by_family_doctor && !tertiary).then_some(specialty),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("；");
        let fate = self.fate(rng, up.urgency);
        let (referring, desk, clinician) = (self.roles(from).0, self.roles(to).1, self.roles(to).2);
        let mut t = Trail::new(self.cutoff);
        let run = self.run(
            rng,
            &mut t,
            submitted,
            up.urgency,
            fate,
            (referring, desk, clinician),
            true,
            median_response(up.urgency),
        );
        let row = ReferralRow {
            direction: Direction::Up,
            urgency: up.urgency,
            green_channel: up.green,
            from_code: self.insts[from].code.to_string(),
            to_code: self.insts[to].code.to_string(),
            to_department: up.dx.dept.to_string(),
            icd10: code(up.dx.code),
            diagnosis: up.diagnosis.clone(),
            reason: up.reason.clone(),
            justification: (!justification.is_empty()).then_some(justification),
            summary: up.summary.clone(),
            results: up.results.clone(),
            follow_up_plan: String::new(),
            contracted: contract.is_some(),
            team_code: contract.map(|c| c.team_code.clone()),
            priority: priority_rank(up.urgency, contract.is_some()),
            same_consortium: same,
            to_has_centre: self.has_centre(to, up.green),
            outside_combination: outside,
            by_family_doctor,
            submitted_at: submitted,
            deadline_at: response_deadline(submitted, up.urgency, &self.limits),
            state: t.state,
            decline_reason: run.decline_reason.map(str::to_string),
            redirected_from,
            follows: None,
            events: t.events,
            appointment: run.appointment.clone(),
        };
        self.push(out, row).map(|i| (i, run))
    }

    /// The hospital is outside the contract's "1+1+1" combination.
    fn outside_combination(&self, to: usize, contract: Option<&ContractRow>) -> bool {
        let Some(c) = contract else { return false };
        let names: Vec<&str> = [&c.secondary_hospital_code, &c.tertiary_hospital_code]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        !self.insts[to].kind.is_primary()
            && !names.is_empty()
            && !names.contains(&self.insts[to].code)
    }

    /// A referral by the resident's family-doctor team's institution (or a
    /// village clinic) for a contracted resident.
    fn by_family_doctor(&self, from: usize, contract: Option<&ContractRow>) -> bool {
        contract.is_some_and(|c| {
            self.team_site.get(c.team_code.as_str()) == Some(&from)
                || self.insts[from].kind == InstitutionKind::VillageClinic
        })
    }

    /// Pushes a referral that happened (its submission lies before the
    /// cut-off) unless the resident already has one submitted at the same
    /// second; returns its index.
    fn push(&self, out: &mut Vec<ReferralRow>, row: ReferralRow) -> Option<usize> {
        if row.events.is_empty() || out.iter().any(|r| r.submitted_at == row.submitted_at) {
            return None;
        }
        out.push(row);
        Some(out.len() - 1)
    }

    /// Walks one referral through the state machine.
    #[allow(clippy::too_many_arguments)]
    fn run<R: Rng>(
        &self,
        rng: &mut R,
        t: &mut Trail,
        submitted: NaiveDateTime,
        urgency: Urgency,
        fate: Fate,
        (referring, desk, clinician): (Role, Role, Role),
        quota: bool,
        median: f64,
    ) -> Run {
        use ReferralEvent as E;
        let mut run = Run::default();
        if t.step(submitted, E::Submit, Side::Referring, Some(referring), "")
            .is_none()
        {
            return run;
        }
        let cancel_note = CANCEL_REASONS[rng.random_range(0..CANCEL_REASONS.len())];
        if fate == Fate::Unanswered {
            t.step(
                submitted + Duration::days(UNANSWERED_EXPIRE_DAYS),
                E::Expire,
                Side::System,
                None,
                &format!("超过{UNANSWERED_EXPIRE_DAYS}天未处理，系统自动关闭"),
            );
            return run;
        }
        let mut answer = submitted + self.response(rng, urgency, median);
        if urgency == Urgency::Routine {
            answer = office(rng, answer);
        }
        match fate {
            Fate::Cancel(0) => {
                let before = submitted + (answer - submitted) / 2;
                t.step(
                    before,
                    E::Cancel,
                    Side::Referring,
                    Some(referring),
                    cancel_note,
                );
                return run;
            }
            Fate::Decline(k) => {
                let (reason, redirect, _) = DECLINE_REASONS[k];
                if let Some(d) = t.step(answer, E::Decline, Side::Receiving, Some(desk), reason) {
                    run.decline_reason = Some(reason);
                    run.redirect = redirect;
                    run.declined_at = Some(d);
                }
                return run;
            }
            _ => {}
        }
        let Some(accepted) = t.step(answer, E::Accept, Side::Receiving, Some(desk), "") else {
            return run;
        };
        if urgency == Urgency::Emergency {
            if matches!(fate, Fate::Cancel(_)) {
                let c = accepted + minutes(rng.random_range(5.0..40.0));
                t.step(
                    c,
                    E::Cancel,
                    Side::Referring,
                    Some(referring),
                    "患者家属放弃转诊",
                );
                return run;
            }
            // The green channel books the reception at once, for the
            // quarter hour the ambulance is expected.
            let Some(scheduled) = t.step(
                accepted + minutes(rng.random_range(1.0..5.0)),
                E::Schedule,
                Side::Receiving,
                Some(desk),
                "",
            ) else {
                return run;
            };
            let eta = scheduled + minutes(rng.random_range(20.0..75.0));
            let start = eta
                .with_minute(eta.minute() / 15 * 15)
                .unwrap_or(eta)
                .with_second(0)
                .unwrap_or(eta);
            let mut appt = ReferralAppointment {
                starts_at: start,
                ends_at: start + Duration::minutes(SLOT_MINUTES),
                booked_at: scheduled,
                reserved_for_referral: quota,
                status: AppointmentStatus::Booked,
                updated_at: scheduled,
            };
            if let Some(arrived) = t.step(eta, E::Arrive, Side::Receiving, Some(clinician), "") {
                appt.status = AppointmentStatus::Attended;
                appt.updated_at = arrived;
                let done = arrived + minutes(rng.random_range(60.0..360.0));
                run.completed_at = t.step(done, E::Complete, Side::Receiving, Some(clinician), "");
            }
            run.appointment = Some(appt);
            return run;
        }
        if fate == Fate::Cancel(1) {
            let c = accepted + minutes(rng.random_range(60.0..2880.0));
            t.step(c, E::Cancel, Side::Referring, Some(referring), cancel_note);
            return run;
        }
        let (schedule, start) = if urgency == Urgency::Urgent {
            let s = accepted + minutes(rng.random_range(5.0..30.0));
            (s, next_slot(s + Duration::hours(1)))
        } else {
            let later = accepted + minutes(rng.random_range(10.0..1560.0));
            let s = office(rng, later);
            let days = if quota {
                1 + weighted(rng, &[15, 20, 20, 15, 10, 6, 5, 4, 3, 2]).unwrap_or(0) as i64
            } else {
                rng.random_range(1..=FOLLOW_UP_AFTER_REFERRAL_DAYS)
            };
            (s, grid_slot(rng, s.date() + Duration::days(days)))
        };
        let Some(scheduled) = t.step(schedule, E::Schedule, Side::Receiving, Some(desk), "") else {
            return run;
        };
        let mut appt = ReferralAppointment {
            starts_at: start,
            ends_at: start + Duration::minutes(SLOT_MINUTES),
            booked_at: scheduled,
            reserved_for_referral: quota,
            status: AppointmentStatus::Booked,
            updated_at: scheduled,
        };
        match fate {
            Fate::Cancel(_) => {
                let c = scheduled + (start - scheduled) / 2;
                if let Some(c) = t.step(c, E::Cancel, Side::Referring, Some(referring), cancel_note)
                {
                    appt.status = AppointmentStatus::Cancelled;
                    appt.updated_at = c;
                }
            }
            Fate::NoShow => {
                let e = start + Duration::days(NO_SHOW_EXPIRE_DAYS);
                if let Some(e) = t.step(
                    e,
                    E::Expire,
                    Side::System,
                    None,
                    "患者未按预约到诊，系统自动关闭",
                ) {
                    appt.status = AppointmentStatus::NoShow;
                    appt.updated_at = e;
                }
            }
            _ => {
                let arrive = start - Duration::minutes(15) + minutes(rng.random_range(0.0..25.0));
                if let Some(arrived) =
                    t.step(arrive, E::Arrive, Side::Receiving, Some(clinician), "")
                {
                    appt.status = AppointmentStatus::Attended;
                    appt.updated_at = arrived;
                    let done = arrived + minutes(rng.random_range(40.0..300.0));
                    run.completed_at =
                        t.step(done, E::Complete, Side::Receiving, Some(clinician), "");
                }
            }
        }
        run.appointment = Some(appt);
        run
    }

    /// 下转 — back to the resident's health centre after the hospital stay.
    fn downward<R: Rng>(
        &self,
        rng: &mut R,
        who: &Who,
        dx: &DxSpec,
        up: usize,
        done: NaiveDateTime,
        out: &mut Vec<ReferralRow>,
    ) {
        let Some(from) = self.by_code.get(out[up].to_code.as_str()).copied() else {
            return;
        };
        let to = who.centre;
        let discharged = done.date() + Duration::days(rng.random_range(3..=14));
        let submitted = time_of(rng, discharged, 9.0, 16.5);
        let fate = match weighted(rng, &[92, 3, 5]) {
            Some(1) => Fate::Cancel(1),
            Some(2) => Fate::NoShow,
            _ => Fate::Complete,
        };
        let (down_code, down_name) = dx.down;
        let u = &out[up];
        let summary = format!(
            "患者因“{}”于{}经转诊入住我院{}，{}，病情稳定，于{}出院。出院诊断：{}。",
            u.diagnosis,
            done.format("%Y年%m月%d日"),
            u.to_department,
            dx.group.treatment(),
            discharged.format("%Y年%m月%d日"),
            down_name
        );
        let mut t = Trail::new(self.cutoff);
        let run = self.run(
            rng,
            &mut t,
            submitted,
            Urgency::Routine,
            fate,
            (self.roles(from).0, self.roles(to).1, self.roles(to).2),
            false,
            180.0,
        );
        if let Some(n) = t
            .events
            .iter_mut()
            .find(|e| e.event == ReferralEvent::Cancel)
        {
            n.note = "患者病情变化，需继续住院治疗".into();
        }
        let contract = self.contract_on(who.care, submitted.date());
        let row = ReferralRow {
            direction: Direction::Down,
            urgency: Urgency::Routine,
            green_channel: None,
            from_code: self.insts[from].code.to_string(),
            to_code: self.insts[to].code.to_string(),
            to_department: "全科".into(),
            icd10: code(down_code),
            diagnosis: down_name.to_string(),
            reason: "诊断明确、治疗方案确定、病情稳定，转回基层继续康复及健康管理".into(),
            justification: None,
            summary,
            results: u.results.clone(),
            follow_up_plan: dx.group.plan().to_string(),
            contracted: contract.is_some(),
            team_code: contract.map(|c| c.team_code.clone()),
            priority: priority_rank(Urgency::Routine, contract.is_some()),
            same_consortium: self.same_consortium(from, to),
            to_has_centre: false,
            outside_combination: false,
            by_family_doctor: false,
            submitted_at: submitted,
            deadline_at: response_deadline(submitted, Urgency::Routine, &self.limits),
            state: t.state,
            decline_reason: None,
            redirected_from: None,
            follows: Some(up),
            events: t.events,
            appointment: run.appointment,
        };
        self.push(out, row);
    }

    /// 平转 — rehabilitation at the county TCM hospital.
    fn lateral<R: Rng>(
        &self,
        rng: &mut R,
        who: &Who,
        dx: &DxSpec,
        up: usize,
        done: NaiveDateTime,
        out: &mut Vec<ReferralRow>,
    ) {
        let (Some(from), Some(to)) = (
            self.by_code.get(out[up].to_code.as_str()).copied(),
            self.tcm,
        ) else {
            return;
        };
        let day = done.date() + Duration::days(rng.random_range(2..=10));
        let submitted = time_of(rng, day, 9.0, 16.5);
        let fate = match self.fate(rng, Urgency::Routine) {
            // Lateral referrals are not redirected.
            Fate::Decline(k) if DECLINE_REASONS[k].1 => Fate::Decline(2),
            f => f,
        };
        let mut t = Trail::new(self.cutoff);
        let run = self.run(
            rng,
            &mut t,
            submitted,
            Urgency::Routine,
            fate,
            (self.roles(from).0, self.roles(to).1, self.roles(to).2),
            false,
            median_response(Urgency::Routine),
        );
        let contract = self.contract_on(who.care, submitted.date());
        let u = &out[up];
        let row = ReferralRow {
            direction: Direction::Lateral,
            urgency: Urgency::Routine,
            green_channel: None,
            from_code: self.insts[from].code.to_string(),
            to_code: self.insts[to].code.to_string(),
            to_department: "康复医学科".into(),
            icd10: u.icd10.clone(),
            diagnosis: u.diagnosis.clone(),
            reason: "急性期治疗结束，转中医院行中西医结合康复治疗".into(),
            justification: None,
            summary: format!(
                "患者因“{}”于我院{}，目前病情稳定，遗留功能障碍，需系统康复治疗。",
                u.diagnosis,
                dx.group.treatment()
            ),
            results: u.results.clone(),
            follow_up_plan: String::new(),
            contracted: contract.is_some(),
            team_code: contract.map(|c| c.team_code.clone()),
            priority: priority_rank(Urgency::Routine, contract.is_some()),
            same_consortium: self.same_consortium(from, to),
            to_has_centre: false,
            outside_combination: false,
            by_family_doctor: false,
            submitted_at: submitted,
            deadline_at: response_deadline(submitted, Urgency::Routine, &self.limits),
            state: t.state,
            decline_reason: run.decline_reason.map(str::to_string),
            redirected_from: None,
            follows: Some(up),
            events: t.events,
            appointment: run.appointment,
        };
        self.push(out, row);
    }
}

/// The fields of an up-referral episode shared by a redirect.
struct Up {
    dx: &'static DxSpec,
    urgency: Urgency,
    green: Option<GreenChannel>,
    diagnosis: String,
    reason: String,
    summary: String,
    results: String,
}

/// Median response time in minutes.
fn median_response(u: Urgency) -> f64 {
    match u {
        Urgency::Emergency => 6.0,
        Urgency::Urgent => 25.0,
        Urgency::Routine => 300.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_code_parses_and_emergencies_have_a_centre() {
        for d in all_specs() {
            let c = Icd10Code::parse(d.code).unwrap_or_else(|e| panic!("{}: {e}", d.code));
            assert_eq!(c.as_str(), d.code, "codes are written normalised");
            Icd10Code::parse(d.down.0).unwrap_or_else(|e| panic!("{}: {e}", d.down.0));
            assert_eq!(code(d.code), c);
            if d.urgency[2] > 0 {
                assert!(d.channel.is_some(), "{} can be an emergency", d.code);
            }
            assert!(d.to.iter().sum::<u32>() > 0, "{}", d.code);
        }
        // Green channels match the diagnosis.
        for d in all_specs() {
            let expected = match (d.code.as_bytes()[0], d.code) {
                (_, c) if c.starts_with("I20") || c.starts_with("I21") => {
                    Some(GreenChannel::ChestPain)
                }
                (_, c) if c.starts_with("I61") || c.starts_with("I63") => {
                    Some(GreenChannel::Stroke)
                }
                (b'S', _) => Some(GreenChannel::Trauma),
                (b'O', _) => Some(GreenChannel::CriticalMaternal),
                (b'P', _) | (_, "R56.0" | "J21.9") => Some(GreenChannel::CriticalNeonatal),
                _ => None,
            };
            if let (Some(e), Some(c)) = (expected, d.channel) {
                assert_eq!(e, c, "{}", d.code);
            }
        }
    }

    #[test]
    fn poisson_counts_have_their_mean() {
        let n = 200_000;
        let total: u32 = (0..n).map(|i| poisson(unit(mix64(i)), 0.08, 3)).sum();
        let mean = f64::from(total) / n as f64;
        assert!((0.075..0.085).contains(&mean), "{mean}");
        assert_eq!(poisson(0.0, 0.08, 3), 0);
        assert_eq!(poisson(0.999_999_999, 0.08, 3), 3);
    }

    #[test]
    fn slots_lie_on_the_grid() {
        let d = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        assert_eq!(next_slot(at(d, 7, 10)), at(d, 8, 0));
        assert_eq!(next_slot(at(d, 11, 20)), at(d, 14, 30));
        assert_eq!(next_slot(at(d, 16, 50)), at(d + Duration::days(1), 8, 0));
        assert_eq!(grid_times().count(), 24);
    }
}
