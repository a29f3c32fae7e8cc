//! The server's one error type. Which error where:
//! - domain rules refuse with their own `thiserror` enums implementing
//!   [`Explain`] (a stable code and a Chinese and an English message);
//! - the store fails with `StoreError`;
//! - handlers return `ApiError`, built from either, which picks the HTTP
//!   status, logs internal causes and never leaks them to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use yilian_domain::Explain;
use yilian_store::StoreError;
use yilian_store::sqlx as sqlx_error;

/// The JSON body of every API error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `invalid_id_number`.
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code: code.into(),
                message_zh: zh.into(),
                message_en: en.into(),
            },
        }
    }
    /// A domain rule's refusal: 422 unless the code says otherwise.
    pub fn rule(e: &dyn Explain) -> ApiError {
        let status = match e.code() {
            "forbidden" | "no_access_grounds" => StatusCode::FORBIDDEN,
            "already_merged"
            | "merge_already_undone"
            | "contract_exists"
            | "contract_cap_reached"
            | "illegal_transition"
            | "slot_unavailable"
            | "already_settled" => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.code(), e.message_zh(), e.message_en())
    }
    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "请先登录",
            "login required",
        )
    }
    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "无权进行此操作",
            "not allowed for your role or scope",
        )
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("未找到{what}"),
            format!("{what} not found"),
        )
    }
    pub fn malformed(detail: impl Into<String>) -> ApiError {
        let d = detail.into();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            format!("请求格式错误：{d}"),
            format!("malformed request: {d}"),
        )
    }
    pub fn invalid(field: &str, zh: &str, en: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("字段 {field} 无效：{zh}"),
            format!("field {field} is invalid: {en}"),
        )
    }
    pub fn unknown_region(code: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_region",
            format!("行政区划 {code} 未登记"),
            format!("region {code} is not registered"),
        )
    }
    pub fn unknown_institution(code: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_institution",
            format!("机构 {code} 未登记"),
            format!("institution {code} is not registered"),
        )
    }
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "服务器内部错误，请稍后重试",
            "internal error; please retry later",
        )
    }
}

/// Every domain rejection converts with `?`.
macro_rules! from_rules {
    ($($t:ty),+) => { $(impl From<$t> for ApiError { fn from(e: $t) -> Self { ApiError::rule(&e) } })+ };
}
from_rules!(
    yilian_domain::id_number::IdNumberError,
    yilian_domain::region::RegionCodeError,
    yilian_domain::error::FieldError,
    yilian_domain::resident::ResidentError,
    yilian_domain::mpi::MergeError,
    yilian_domain::contract::ContractError,
    yilian_domain::prescription::LongRxError,
    yilian_domain::chronic::RangeError,
    yilian_domain::referral::ReferralError,
    yilian_domain::icd10::Icd10Error,
    yilian_domain::record::RecordError,
    yilian_domain::recognition::RecognitionError,
    yilian_domain::insurance::InsuranceError,
    yilian_domain::error::ConfigError
);

impl From<sqlx_error::Error> for ApiError {
    fn from(e: sqlx_error::Error) -> Self {
        StoreError::from(e).into()
    }
}

/// Unique-constraint violations, by normalised `table.column`, to the stable
/// code the API promises (the `on_constraint` mapping, in one place).
fn on_constraint(target: &str) -> ApiError {
    match target {
        "residents.id_number" => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate_id_number",
            "该身份证号码已登记",
            "this identity number is already registered",
        ),
        "users.username" => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate_username",
            "用户名已存在",
            "username already exists",
        ),
        t => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            format!("记录已存在（{t}）"),
            format!("already exists ({t})"),
        ),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("记录"),
            StoreError::Unique(t) => on_constraint(&t),
            StoreError::ForeignKey => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_reference",
                "引用的机构、区划或人员不存在",
                "a referenced institution, region or person does not exist",
            ),
            StoreError::BadText(_) => ApiError::malformed(
                "文本含有无法存储的字符（如 NUL）/ text holds a character that cannot be stored (e.g. NUL)",
            ),
            StoreError::VersionConflict { expected } => ApiError::new(
                StatusCode::CONFLICT,
                "version_conflict",
                "记录已被他人修改，请刷新后重试",
                format!(
                    "the record was changed by someone else (version {expected} is stale); reload and retry"
                ),
            ),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
