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

/// A configuration file (a plan, a scorecard) refused: names the file, the
/// line (1-based, when the fault has a place in the text) and the field.
/// Nothing of a refused file is loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{}: {field}: {en}", line.map(|l| l.to_string()).unwrap_or_else(|| "-".into()))]
pub struct ConfigError {
    /// Stable code, e.g. `invalid_plan`, `invalid_scorecard`.
    pub code: &'static str,
    pub file: String,
    pub line: Option<usize>,
    pub field: String,
    pub zh: String,
    pub en: String,
}

impl ConfigError {
    pub fn new(
        code: &'static str,
        file: &str,
        line: Option<usize>,
        field: impl Into<String>,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            code,
            file: file.to_string(),
            line,
            field: field.into(),
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// A TOML syntax or shape error (unknown key, missing field, wrong type),
    /// placed at its line. The field is the key the parser names, else `toml`.
    pub fn from_toml(code: &'static str, file: &str, text: &str, e: &toml::de::Error) -> Self {
        let line = e.span().map(|s| line_of(text, s.start));
        let msg = e.message().to_string();
        let field = msg
            .split('`')
            .nth(1)
            .filter(|f| !f.is_empty() && !f.contains(' '))
            .unwrap_or("toml")
            .to_string();
        Self::new(code, file, line, field, format!("格式错误：{msg}"), msg)
    }
}

/// The 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Explain for ConfigError {
    fn code(&self) -> &'static str {
        self.code
    }
    fn message_zh(&self) -> String {
        match self.line {
            Some(l) => format!("{} 第{}行 字段 {}：{}", self.file, l, self.field, self.zh),
            None => format!("{} 字段 {}：{}", self.file, self.field, self.zh),
        }
    }
    fn message_en(&self) -> String {
        match self.line {
            Some(l) => format!("{} line {} field {}: {}", self.file, l, self.field, self.en),
            None => format!("{} field {}: {}", self.file, self.field, self.en),
        }
    }
}
