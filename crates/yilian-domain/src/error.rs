//! The one shape every domain rejection takes: a stable code and a message in
//! Chinese and English. The server maps each to an HTTP status.

/// A rule's refusal, explained. `code` is a stable snake_case string that API
/// clients may match on; the two messages are for people.
pub trait Explain {
    /// Stable snake_case error code.
    fn code(&self) -> &'static str;
    /// Message in Simplified Chinese.
    fn message_zh(&self) -> String;
    /// Message in English.
    fn message_en(&self) -> String;
}

/// A plain field-level validation failure (`invalid_field`), naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {en}")]
pub struct FieldError {
    pub field: &'static str,
    pub zh: String,
    pub en: String,
}

impl FieldError {
    pub fn new(field: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            field,
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl Explain for FieldError {
    fn code(&self) -> &'static str {
        "invalid_field"
    }
    fn message_zh(&self) -> String {
        format!("字段 {} 无效：{}", self.field, self.zh)
    }
    fn message_en(&self) -> String {
        format!("field {} is invalid: {}", self.field, self.en)
    }
}
