//! 远程诊断 — remote reading (影像、心电、病理) and remote consultation (会诊):
//! "乡检查、县诊断" — a primary institution examines, a reader at a higher-level
//! hospital reports. The state machine and who moves it, the route rule
//! (lower level asks higher level, in the consortium by default), the
//! turnaround clock, and the checks an uploaded exam file must pass.
//!
//! Sources: SPEC §2.5 (queue, turnaround time, a time limit for urgent
//! reads); seed 000 (县级医疗集团接入远程会诊中心；影像、心电、病理诊断中心，
//! 基层检查、上级诊断); seed 001 art. 34 (二、三级医院向基层提供远程会诊、病理、
//! 影像、心电诊断); seed 003 (重点乡镇卫生院开通远程心电、影像); seed 004
//! ("乡检查、县诊断"). No seed sets turnaround limits: the defaults in
//! [`TurnaroundLimits`] are stated and configurable.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::error::Explain;
use crate::registry::CareLevel;

crate::vocabulary!(
    /// 远程诊断类别 — what is asked for.
    RemoteKind {
        Imaging = "imaging": "远程影像",
        Ecg = "ecg": "远程心电",
        Pathology = "pathology": "远程病理",
        Consultation = "consultation": "远程会诊",
    }
);

impl RemoteKind {
    /// A read of an exam (影像/心电/病理), as opposed to a consultation.
    pub fn is_read(self) -> bool {
        self != RemoteKind::Consultation
    }
    /// The kind of record entry a signed report becomes: `exam` for reads,
    /// `document` for consultations (see `record::EntryKind`).
    pub fn entry_kind(self) -> crate::record::EntryKind {
        if self.is_read() {
            crate::record::EntryKind::Exam
        } else {
            crate::record::EntryKind::Document
        }
    }
}

crate::vocabulary!(
    /// 紧急程度 — urgency of a remote request (sets its turnaround limit).
    RemoteUrgency {
        Routine = "routine": "普通",
        Urgent = "urgent": "加急",
        Emergency = "emergency": "急诊",
    }
);

impl RemoteUrgency {
    /// Work-list rank: smaller is read first (emergency, urgent, routine).
    pub fn rank(self) -> i64 {
        match self {
            RemoteUrgency::Emergency => 0,
            RemoteUrgency::Urgent => 1,
            RemoteUrgency::Routine => 2,
        }
    }
}

crate::vocabulary!(
    /// 申请状态 — requested → claimed → reported → signed; cancelled.
    RemoteState {
        Requested = "requested": "待接单",
        Claimed = "claimed": "已接单",
        Reported = "reported": "已出报告",
        Signed = "signed": "已签发",
        Cancelled = "cancelled": "已撤销",
    }
);

impl RemoteState {
    /// Open states: on the work list, and the turnaround clock runs (it
    /// stops when the report is signed — an unsigned report is not a report).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RemoteState::Requested | RemoteState::Claimed | RemoteState::Reported
        )
    }
}

crate::vocabulary!(
    /// 事件 — what can happen to a remote request.
    RemoteEvent {
        Request = "request": "提交申请",
        Claim = "claim": "接单",
        Release = "release": "放回待接单",
        Report = "report": "出具报告",
        Sign = "sign": "签发",
        Cancel = "cancel": "撤销",
    }
);

impl RemoteEvent {
    /// The side that may cause the event.
    pub fn side(self) -> RemoteSide {
        match self {
            RemoteEvent::Request | RemoteEvent::Cancel => RemoteSide::Requesting,
            _ => RemoteSide::Reading,
        }
    }
    /// Events only the reader holding the claim may cause.
    pub fn needs_claim(self) -> bool {
        matches!(
            self,
            RemoteEvent::Release | RemoteEvent::Report | RemoteEvent::Sign
        )
    }
}

/// Which side of a request an actor is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteSide {
    /// Clinicians of the requesting (lower-level) institution.
    Requesting,
    /// Readers (specialists) of the receiving hospital.
    Reading,
}

/// Who tries to move a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub side: RemoteSide,
    /// The actor is the reader who holds the claim.
    pub holds_claim: bool,
}

impl Actor {
    pub const REQUESTER: Actor = Actor {
        side: RemoteSide::Requesting,
        holds_claim: false,
    };
    /// A reader; `holds_claim` when the request is claimed by them.
    pub fn reader(holds_claim: bool) -> Actor {
        Actor {
            side: RemoteSide::Reading,
            holds_claim,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot {event} a remote request that is {}", from.map_or("not yet requested", |s| s.as_str()))]
    IllegalTransition {
        from: Option<RemoteState>,
        event: RemoteEvent,
    },
    #[error("the {side:?} side may not {event} a remote request")]
    NotAllowed {
        side: RemoteSide,
        event: RemoteEvent,
    },
    #[error("only the reader who claimed this request may {event} it; claim it first")]
    NotClaimedByYou { event: RemoteEvent },
    #[error("{en}")]
    InvalidTarget { zh: String, en: String },
    #[error("{en}")]
    JustificationRequired { zh: String, en: String },
}

impl Explain for RemoteError {
    fn code(&self) -> &'static str {
        match self {
            RemoteError::IllegalTransition { .. } => "illegal_transition",
            RemoteError::NotAllowed { .. } => "forbidden",
            RemoteError::NotClaimedByYou { .. } => "not_claimed_by_you",
            RemoteError::InvalidTarget { .. } => "invalid_target",
            RemoteError::JustificationRequired { .. } => "justification_required",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            RemoteError::IllegalTransition { from, event } => format!(
                "{}状态的申请不能执行“{}”",
                from.map_or("未提交", |s| s.label_zh()),
                event.label_zh()
            ),
            RemoteError::NotAllowed { event, .. } => {
                format!("您所在的一方不能对该申请执行“{}”", event.label_zh())
            }
            RemoteError::NotClaimedByYou { event } => {
                format!("该申请未由您接单，不能执行“{}”；请先接单", event.label_zh())
            }
            RemoteError::InvalidTarget { zh, .. }
            | RemoteError::JustificationRequired { zh, .. } => zh.clone(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// 远程诊断状态机 — the only way a request's state changes:
/// (none) → requested → claimed → reported → signed; a claim can be released
/// back to requested; a report can be amended (reported → reported) until it
/// is signed; the requesting side cancels while requested or claimed.
/// The requesting side requests and cancels; readers claim; only the reader
/// holding the claim releases, reports and signs (`not_claimed_by_you`
/// otherwise — also for an unclaimed request).
pub fn transition(
    from: Option<RemoteState>,
    event: RemoteEvent,
    actor: Actor,
) -> Result<RemoteState, RemoteError> {
    use RemoteEvent as E;
    use RemoteState as S;
    let to = match (from, event) {
        (None, E::Request) => Some(S::Requested),
        (Some(S::Requested), E::Claim) => Some(S::Claimed),
        (Some(S::Claimed), E::Release) => Some(S::Requested),
        (Some(S::Claimed), E::Report) => Some(S::Reported),
        (Some(S::Reported), E::Report) => Some(S::Reported),
        (Some(S::Reported), E::Sign) => Some(S::Signed),
        (Some(S::Requested | S::Claimed), E::Cancel) => Some(S::Cancelled),
        // Unclaimed: the answer is "claim it first", not "illegal".
        (Some(S::Requested), E::Release | E::Report | E::Sign) => None,
        (from, event) => return Err(RemoteError::IllegalTransition { from, event }),
    };
    if actor.side != event.side() {
        return Err(RemoteError::NotAllowed {
            side: actor.side,
            event,
        });
    }
    if event.needs_claim() && !actor.holds_claim {
        return Err(RemoteError::NotClaimedByYou { event });
    }
    to.ok_or(RemoteError::NotClaimedByYou { event })
}

/// The rank of a level of care on the referral ladder; public health is not
/// on it.
fn ladder(level: CareLevel) -> Option<u8> {
    match level {
        CareLevel::Village => Some(0),
        CareLevel::Primary => Some(1),
        CareLevel::County => Some(2),
        CareLevel::City => Some(3),
        CareLevel::Tertiary => Some(4),
        CareLevel::PublicHealth => None,
    }
}

/// Minimum length of a reason for asking a hospital outside the consortium.
pub const REASON_MIN_CHARS: usize = 4;

/// 申请路径 — who may ask whom. Reads ("乡检查、县诊断") are asked by a
/// primary institution (village clinic, township or community centre);
/// consultations by any level. The reader's hospital must be of a higher
/// level than the requester. Inside one consortium (医共体/医联体/远程协作网)
/// is the default route; a hospital outside it needs a stated reason.
pub fn check_route(
    kind: RemoteKind,
    from: CareLevel,
    to: CareLevel,
    same_consortium: bool,
    reason: Option<&str>,
) -> Result<(), RemoteError> {
    let bad = |zh: &str, en: &str| {
        Err(RemoteError::InvalidTarget {
            zh: zh.into(),
            en: en.into(),
        })
    };
    let (Some(f), Some(t)) = (ladder(from), ladder(to)) else {
        return bad(
            "公共卫生机构不参与远程诊断",
            "public-health institutions take no part in remote diagnosis",
        );
    };
    if kind.is_read() && f > 1 {
        return bad(
            "远程影像/心电/病理诊断由基层医疗卫生机构申请（乡检查、县诊断）",
            "remote reads are requested by primary institutions (village, township, community)",
        );
    }
    if t <= f {
        return bad(
            "须向上级医院申请远程诊断",
            "the reading hospital must be of a higher level than the requester",
        );
    }
    let justified = reason.is_some_and(|r| r.trim().chars().count() >= REASON_MIN_CHARS);
    if !same_consortium && !justified {
        return Err(RemoteError::JustificationRequired {
            zh: "医联体内为默认路径，向医联体外医院申请须说明理由".into(),
            en: "the consortium is the default route; a hospital outside it needs a stated reason"
                .into(),
        });
    }
    Ok(())
}

/// 报告时限 — how long, from the request, until the signed report is due.
/// No seed text sets these limits; the defaults follow common practice in
/// Chinese imaging and ECG departments and remote-diagnosis centres:
/// an emergency read within 30 minutes (急诊报告 30 分钟), an urgent one
/// within 2 hours, a routine one within 24 hours (one working day). A
/// county sets its own (`YILIAN_REMOTE_TURNAROUND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnaroundLimits {
    pub emergency_minutes: i64,
    pub urgent_minutes: i64,
    pub routine_minutes: i64,
}

impl Default for TurnaroundLimits {
    fn default() -> Self {
        TurnaroundLimits {
            emergency_minutes: 30,
            urgent_minutes: 2 * 60,
            routine_minutes: 24 * 60,
        }
    }
}

impl TurnaroundLimits {
    pub fn minutes(&self, urgency: RemoteUrgency) -> i64 {
        match urgency {
            RemoteUrgency::Emergency => self.emergency_minutes,
            RemoteUrgency::Urgent => self.urgent_minutes,
            RemoteUrgency::Routine => self.routine_minutes,
        }
    }

    /// Parses `emergency,urgent,routine` in minutes (e.g. `30,120,1440`);
    /// each ≥ 0 and not longer than a week, and never a looser limit for a
    /// more urgent request.
    pub fn parse(s: &str) -> Option<TurnaroundLimits> {
        let v: Vec<i64> = s
            .split(',')
            .map(|p| p.trim().parse().ok())
            .collect::<Option<_>>()?;
        let [e, u, r] = v[..] else { return None };
        let week = 7 * 24 * 60;
        let ok = (0..=week).contains(&e) && e <= u && u <= r && r <= week;
        ok.then_some(TurnaroundLimits {
            emergency_minutes: e,
            urgent_minutes: u,
            routine_minutes: r,
        })
    }
}

/// When the signed report of a request made at `requested_at` is due.
pub fn due_at(
    requested_at: NaiveDateTime,
    urgency: RemoteUrgency,
    limits: &TurnaroundLimits,
) -> NaiveDateTime {
    requested_at + Duration::minutes(limits.minutes(urgency))
}

/// 超时 — an open request past its due time. At the due instant itself it
/// is still on time.
pub fn overdue(state: RemoteState, due_at: NaiveDateTime, now: NaiveDateTime) -> bool {
    state.is_open() && now > due_at
}

crate::vocabulary!(
    /// 时钟颜色 — how the work list shows the clock.
    ClockColour {
        Green = "green": "充裕",
        Amber = "amber": "将到期",
        Red = "red": "已超时",
        Stopped = "stopped": "已停止",
    }
);

/// The turnaround clock of one request, as the work list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Clock {
    /// Minutes until due (negative: minutes overdue). Rounded toward the
    /// deadline: 59 s left shows as 0 minutes, 1 s late as −1.
    pub minutes_left: i64,
    pub overdue: bool,
    pub colour: ClockColour,
}

/// The clock at `now`: red when overdue; amber in the last quarter of the
/// allowed time; green before; stopped once the request is closed.
pub fn clock(
    state: RemoteState,
    requested_at: NaiveDateTime,
    due_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Clock {
    let left = due_at - now;
    let minutes_left = if left < Duration::zero() {
        left.num_seconds().div_euclid(60)
    } else {
        left.num_minutes()
    };
    let is_overdue = overdue(state, due_at, now);
    let colour = if !state.is_open() {
        ClockColour::Stopped
    } else if is_overdue {
        ClockColour::Red
    } else if (left * 4) <= (due_at - requested_at) {
        ClockColour::Amber
    } else {
        ClockColour::Green
    };
    Clock {
        minutes_left,
        overdue: is_overdue,
        colour,
    }
}

// ------------------------------------------------------------------ files

/// The largest exam file accepted (20 MiB): a compressed DICOM study slice,
/// a 12-lead ECG PDF or a pathology snapshot fits well within it; whole
/// studies and whole-slide images are referenced (`file_ref`), not uploaded.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

crate::vocabulary!(
    /// 文件类型 — the media types an exam file may have (by content).
    MediaType {
        Dicom = "application/dicom": "DICOM 影像",
        Jpeg = "image/jpeg": "JPEG 图像",
        Png = "image/png": "PNG 图像",
        Pdf = "application/pdf": "PDF 文档（如心电图报告）",
        Xml = "application/xml": "HL7 aECG 心电 XML",
    }
);

impl MediaType {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            MediaType::Dicom => "dcm",
            MediaType::Jpeg => "jpg",
            MediaType::Png => "png",
            MediaType::Pdf => "pdf",
            MediaType::Xml => "xml",
        }
    }
}

/// What the bytes are, by their magic numbers: DICOM Part 10 ("DICM" after
/// the 128-byte preamble), JPEG (FF D8 FF), PNG (its 8-byte signature), PDF
/// (`%PDF-`), and HL7 aECG XML (an XML document naming `AnnotatedECG` in its
/// first 4 KiB). Anything else is not an exam file.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        return Some(MediaType::Dicom);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(MediaType::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(MediaType::Png);
    }
    if bytes.starts_with(b"%PDF-") {
        return Some(MediaType::Pdf);
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = &text[start..];
    if (text.starts_with(b"<?xml") || text.starts_with(b"<AnnotatedECG"))
        && text.windows(12).any(|w| w == b"AnnotatedECG")
    {
        return Some(MediaType::Xml);
    }
    None
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than the limit of {max} bytes")]
    TooLarge { max: usize },
    #[error("the file is not a DICOM, JPEG, PNG, PDF or HL7 aECG file")]
    Unrecognised,
    #[error("the file is {actual}, not {declared} as declared")]
    Mismatch { declared: String, actual: MediaType },
}

impl Explain for FileError {
    fn code(&self) -> &'static str {
        match self {
            FileError::Empty => "invalid_field",
            FileError::TooLarge { .. } => "payload_too_large",
            FileError::Unrecognised | FileError::Mismatch { .. } => "unsupported_media_type",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            FileError::Empty => "字段 file 无效：文件为空".into(),
            FileError::TooLarge { max } => {
                format!("文件超过大小上限（{} MB）", max / (1024 * 1024))
            }
            FileError::Unrecognised => {
                "文件不是可识别的检查文件（DICOM、JPEG、PNG、PDF 或心电 XML）".into()
            }
            FileError::Mismatch { declared, actual } => format!(
                "文件内容为{}，与声明的类型 {declared} 不符",
                actual.label_zh()
            ),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Normalises a declared media type: lower case, parameters dropped; the
/// generic `application/octet-stream` (what browsers send when they do not
/// know) and an empty value count as "not declared". `image/jpg` and
/// `image/pjpeg` mean JPEG; `text/xml` means XML.
fn declared(media_type: Option<&str>) -> Option<String> {
    let t = media_type?.split(';').next()?.trim().to_ascii_lowercase();
    match t.as_str() {
        "" | "application/octet-stream" => None,
        "image/jpg" | "image/pjpeg" => Some(MediaType::Jpeg.as_str().into()),
        "text/xml" => Some(MediaType::Xml.as_str().into()),
        _ => Some(t),
    }
}

/// 文件校验 — an exam file is accepted when it is not empty, within
/// [`MAX_FILE_BYTES`], recognised by its content, and (if a type was
/// declared) what it claims to be. Returns the type found.
pub fn check_file(declared_media_type: Option<&str>, bytes: &[u8]) -> Result<MediaType, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            max: MAX_FILE_BYTES,
        });
    }
    let actual = sniff(bytes).ok_or(FileError::Unrecognised)?;
    match declared(declared_media_type) {
        Some(d) if d != actual.as_str() => Err(FileError::Mismatch {
            declared: d,
            actual,
        }),
        _ => Ok(actual),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    /// What every (state, event) pair should give, for the right actor.
    fn expected(
        from: Option<RemoteState>,
        event: RemoteEvent,
    ) -> Result<RemoteState, &'static str> {
        use RemoteEvent as E;
        use RemoteState as S;
        match (from, event) {
            (None, E::Request) => Ok(S::Requested),
            (Some(S::Requested), E::Claim) => Ok(S::Claimed),
            (Some(S::Claimed), E::Release) => Ok(S::Requested),
            (Some(S::Claimed), E::Report) => Ok(S::Reported),
            (Some(S::Reported), E::Report) => Ok(S::Reported),
            (Some(S::Reported), E::Sign) => Ok(S::Signed),
            (Some(S::Requested | S::Claimed), E::Cancel) => Ok(S::Cancelled),
            (Some(S::Requested), E::Release | E::Report | E::Sign) => Err("not_claimed_by_you"),
            _ => Err("illegal_transition"),
        }
    }

    #[test]
    fn state_machine_every_state_and_event() {
        let froms = std::iter::once(None).chain(RemoteState::ALL.iter().copied().map(Some));
        for from in froms {
            for &event in RemoteEvent::ALL {
                // The right actor: the requester, or the claimant reader.
                let actor = match event.side() {
                    RemoteSide::Requesting => Actor::REQUESTER,
                    RemoteSide::Reading => Actor::reader(from.is_some_and(|s| {
                        matches!(s, RemoteState::Claimed | RemoteState::Reported)
                    })),
                };
                let got = transition(from, event, actor).map_err(|e| e.code());
                assert_eq!(got, expected(from, event), "{from:?} × {event:?}");
            }
        }
    }

    #[test]
    fn the_wrong_side_or_another_reader_cannot_move_a_request() {
        use RemoteEvent as E;
        use RemoteState as S;
        let froms = std::iter::once(None).chain(S::ALL.iter().copied().map(Some));
        for from in froms {
            for &event in E::ALL {
                let legal = expected(from, event);
                if legal == Err("illegal_transition") {
                    continue;
                }
                // The other side: always refused, as forbidden.
                let wrong = match event.side() {
                    RemoteSide::Requesting => Actor::reader(true),
                    RemoteSide::Reading => Actor::REQUESTER,
                };
                assert_eq!(
                    transition(from, event, wrong).map_err(|e| e.code()),
                    Err("forbidden"),
                    "{from:?} × {event:?} by the other side"
                );
                // Another reader (not holding the claim).
                if event.side() == RemoteSide::Reading {
                    let got = transition(from, event, Actor::reader(false)).map_err(|e| e.code());
                    if event.needs_claim() {
                        assert_eq!(got, Err("not_claimed_by_you"), "{from:?} × {event:?}");
                    } else {
                        assert_eq!(got, legal, "{from:?} × {event:?}: anyone may claim");
                    }
                }
            }
        }
        // Closed requests refuse everything as illegal, whoever asks.
        for from in [S::Signed, S::Cancelled] {
            for &event in E::ALL {
                for actor in [Actor::REQUESTER, Actor::reader(true), Actor::reader(false)] {
                    assert_eq!(
                        transition(Some(from), event, actor).map_err(|e| e.code()),
                        Err("illegal_transition")
                    );
                }
            }
        }
    }

    #[test]
    fn errors_explain_themselves_in_both_languages() {
        let e = transition(
            Some(RemoteState::Requested),
            RemoteEvent::Report,
            Actor::reader(false),
        )
        .unwrap_err();
        assert_eq!(e.code(), "not_claimed_by_you");
        assert!(e.message_zh().contains("出具报告") && e.message_en().contains("report"));
        let e = transition(
            Some(RemoteState::Signed),
            RemoteEvent::Cancel,
            Actor::REQUESTER,
        )
        .unwrap_err();
        assert!(e.message_zh().contains("已签发"));
        let e = transition(None, RemoteEvent::Claim, Actor::reader(false)).unwrap_err();
        assert!(e.message_zh().contains("未提交"), "{}", e.message_zh());
    }

    #[test]
    fn routes_go_up_and_stay_in_the_consortium_unless_justified() {
        use CareLevel as L;
        use RemoteKind as K;
        let code = |r: Result<(), RemoteError>| r.map_err(|e| e.code());
        assert_eq!(
            code(check_route(K::Ecg, L::Primary, L::County, true, None)),
            Ok(())
        );
        assert_eq!(
            code(check_route(K::Imaging, L::Village, L::Tertiary, true, None)),
            Ok(())
        );
        assert_eq!(
            code(check_route(K::Ecg, L::County, L::Tertiary, true, None)),
            Err("invalid_target"),
            "reads are asked by primary institutions"
        );
        assert_eq!(
            code(check_route(
                K::Consultation,
                L::County,
                L::Tertiary,
                true,
                None
            )),
            Ok(()),
            "consultations between any two levels, upwards"
        );
        assert_eq!(
            code(check_route(
                K::Consultation,
                L::County,
                L::County,
                true,
                None
            )),
            Err("invalid_target")
        );
        assert_eq!(
            code(check_route(K::Ecg, L::Primary, L::Primary, true, None)),
            Err("invalid_target")
        );
        assert_eq!(
            code(check_route(K::Ecg, L::Primary, L::PublicHealth, true, None)),
            Err("invalid_target")
        );
        assert_eq!(
            code(check_route(K::Ecg, L::Primary, L::County, false, None)),
            Err("justification_required")
        );
        assert_eq!(
            code(check_route(
                K::Ecg,
                L::Primary,
                L::County,
                false,
                Some(" 短 ")
            )),
            Err("justification_required"),
            "a reason is at least four characters"
        );
        assert_eq!(
            code(check_route(
                K::Ecg,
                L::Primary,
                L::City,
                false,
                Some("县医院心电室停机检修")
            )),
            Ok(())
        );
    }

    #[test]
    fn the_clock_at_its_boundaries() {
        let l = TurnaroundLimits::default();
        let at = t(8, 0, 0);
        assert_eq!(due_at(at, RemoteUrgency::Emergency, &l), t(8, 30, 0));
        assert_eq!(due_at(at, RemoteUrgency::Urgent, &l), t(10, 0, 0));
        assert_eq!(
            due_at(at, RemoteUrgency::Routine, &l),
            at + Duration::hours(24)
        );
        let due = t(8, 30, 0);
        let open = RemoteState::Claimed;
        assert!(!overdue(open, due, t(8, 29, 59)));
        assert!(!overdue(open, due, due), "on time at the due instant");
        assert!(overdue(open, due, t(8, 30, 1)));
        assert!(overdue(RemoteState::Requested, due, t(9, 0, 0)));
        assert!(overdue(RemoteState::Reported, due, t(9, 0, 0)), "unsigned");
        assert!(
            !overdue(RemoteState::Signed, due, t(9, 0, 0)),
            "the clock stopped"
        );
        assert!(!overdue(RemoteState::Cancelled, due, t(9, 0, 0)));

        let c = clock(open, at, due, t(8, 0, 0));
        assert_eq!(
            (c.minutes_left, c.overdue, c.colour),
            (30, false, ClockColour::Green)
        );
        let c = clock(open, at, due, t(8, 22, 29));
        assert_eq!(
            c.colour,
            ClockColour::Green,
            "7.5 min left is more than a quarter"
        );
        let c = clock(open, at, due, t(8, 22, 30));
        assert_eq!(
            (c.minutes_left, c.colour),
            (7, ClockColour::Amber),
            "the last quarter"
        );
        let c = clock(open, at, due, t(8, 29, 1));
        assert_eq!((c.minutes_left, c.overdue), (0, false));
        let c = clock(open, at, due, due);
        assert_eq!(
            (c.minutes_left, c.overdue, c.colour),
            (0, false, ClockColour::Amber)
        );
        let c = clock(open, at, due, t(8, 30, 1));
        assert_eq!(
            (c.minutes_left, c.overdue, c.colour),
            (-1, true, ClockColour::Red)
        );
        let c = clock(open, at, due, t(9, 15, 0));
        assert_eq!(c.minutes_left, -45);
        let c = clock(RemoteState::Signed, at, due, t(9, 15, 0));
        assert_eq!((c.overdue, c.colour), (false, ClockColour::Stopped));
        // A zero limit is due at once and overdue a second later.
        let zero = TurnaroundLimits {
            emergency_minutes: 0,
            urgent_minutes: 0,
            routine_minutes: 0,
        };
        let d = due_at(at, RemoteUrgency::Routine, &zero);
        assert!(!overdue(open, d, at) && overdue(open, d, t(8, 0, 1)));
    }

    #[test]
    fn limits_parse_from_settings() {
        assert_eq!(
            TurnaroundLimits::parse("30, 120,1440"),
            Some(TurnaroundLimits::default())
        );
        assert_eq!(
            TurnaroundLimits::parse("0,0,0").map(|l| l.routine_minutes),
            Some(0)
        );
        for bad in [
            "",
            "30,120",
            "30,120,1440,5",
            "a,b,c",
            "-1,2,3",
            "60,30,1440",
            "1,2,99999",
        ] {
            assert_eq!(TurnaroundLimits::parse(bad), None, "{bad:?}");
        }
    }

    fn dicom() -> Vec<u8> {
        let mut b = vec![0u8; 128];
        b.extend_from_slice(b"DICM");
        b.extend_from_slice(&[2, 0, 0, 0]);
        b
    }

    #[test]
    fn sniffing_recognises_exam_files_by_content() {
        assert_eq!(sniff(&dicom()), Some(MediaType::Dicom));
        assert_eq!(sniff(&dicom()[..131]), None, "too short for the magic");
        let mut shifted = dicom();
        shifted.insert(0, 0);
        assert_eq!(sniff(&shifted), None, "DICM must sit at offset 128");
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16]),
            Some(MediaType::Jpeg)
        );
        assert_eq!(sniff(&[0xFF, 0xD8]), None);
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(MediaType::Png)
        );
        assert_eq!(sniff(b"\x89PNG\r\n"), None);
        assert_eq!(sniff(b"%PDF-1.4\n%\xE2\xE3"), Some(MediaType::Pdf));
        assert_eq!(sniff(b"%PDF"), None);
        assert_eq!(
            sniff(b"\xEF\xBB\xBF <?xml version=\"1.0\"?><AnnotatedECG xmlns=\"urn:hl7-org:v3\"/>"),
            Some(MediaType::Xml)
        );
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><html/>"),
            None,
            "other XML is not an ECG"
        );
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"MZ\x90\0"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"   "), None);
    }

    #[test]
    fn file_checks_size_content_and_declared_type() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        assert_eq!(check_file(Some("image/png"), &png), Ok(MediaType::Png));
        assert_eq!(check_file(None, &png), Ok(MediaType::Png));
        assert_eq!(
            check_file(Some("application/octet-stream"), &png),
            Ok(MediaType::Png),
            "a browser that does not know declares nothing"
        );
        assert_eq!(check_file(Some("IMAGE/PNG; q=1"), &png), Ok(MediaType::Png));
        let e = check_file(Some("application/dicom"), &png).unwrap_err();
        assert_eq!(e.code(), "unsupported_media_type");
        assert!(e.message_zh().contains("PNG"));
        assert_eq!(
            check_file(Some("image/jpg"), &[0xFF, 0xD8, 0xFF, 0xDB]),
            Ok(MediaType::Jpeg)
        );
        assert_eq!(
            check_file(None, b"random bytes, not an exam").map_err(|e| e.code()),
            Err("unsupported_media_type")
        );
        assert_eq!(
            check_file(None, b"").map_err(|e| e.code()),
            Err("invalid_field")
        );
        let mut big = dicom();
        big.resize(MAX_FILE_BYTES, 0);
        assert_eq!(
            check_file(Some("application/dicom"), &big),
            Ok(MediaType::Dicom)
        );
        big.push(0);
        assert_eq!(
            check_file(Some("application/dicom"), &big).map_err(|e| e.code()),
            Err("payload_too_large"),
            "one byte over the limit"
        );
    }

    #[test]
    fn kinds_and_urgencies() {
        assert!(RemoteKind::Ecg.is_read() && !RemoteKind::Consultation.is_read());
        assert_eq!(RemoteKind::Imaging.entry_kind().as_str(), "exam");
        assert_eq!(RemoteKind::Consultation.entry_kind().as_str(), "document");
        let mut u = RemoteUrgency::ALL.to_vec();
        u.sort_by_key(|u| u.rank());
        assert_eq!(
            u,
            [
                RemoteUrgency::Emergency,
                RemoteUrgency::Urgent,
                RemoteUrgency::Routine
            ]
        );
        assert!(RemoteState::ALL.iter().filter(|s| s.is_open()).count() == 3);
    }
}
