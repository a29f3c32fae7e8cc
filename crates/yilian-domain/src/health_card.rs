//! 电子健康卡 — the electronic health card id: the one identifier every
//! institution uses for a resident. Issued once per resident by the platform.
//!
//! Format (platform-local, documented in docs/ARCHITECTURE.md): `E`, the
//! issuing county's six-digit code, an 11-digit serial, and an ISO 7064
//! MOD 11-2 check character over the 17 digits — so a mistyped card id is
//! caught before any lookup. It carries no personal data.

use std::fmt;

use crate::id_number::mod11_2_check;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCardId(String);

impl HealthCardId {
    /// Issues the card id for `serial` in `county6`.
    pub fn issue(county6: &str, serial: u64) -> Option<HealthCardId> {
        if county6.len() != 6
            || !county6.bytes().all(|b| b.is_ascii_digit())
            || serial > 99_999_999_999
        {
            return None;
        }
        let body = format!("{county6}{serial:011}");
        let check = mod11_2_check(&body)?;
        Some(HealthCardId(format!("E{body}{check}")))
    }

    /// Parses a card id, checking its check character.
    pub fn parse(s: &str) -> Option<HealthCardId> {
        let s = s.trim().to_ascii_uppercase();
        let body = s.strip_prefix('E')?;
        if body.len() != 18 || !body.is_ascii() {
            return None;
        }
        let (digits, check) = body.split_at(17);
        (mod11_2_check(digits)?.to_string() == check).then_some(HealthCardId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HealthCardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_ids_parse_and_typos_do_not() {
        let id = HealthCardId::issue("140521", 42).unwrap();
        assert_eq!(id.as_str().len(), 19);
        assert_eq!(HealthCardId::parse(id.as_str()), Some(id.clone()));
        let mut typo = id.as_str().to_string();
        typo.replace_range(10..11, if &typo[10..11] == "9" { "8" } else { "9" });
        assert_eq!(HealthCardId::parse(&typo), None);
        assert_eq!(HealthCardId::parse("E123"), None);
        assert_eq!(HealthCardId::issue("14052", 1), None);
    }
}
