//! 联系电话 — a mainland mobile (11 digits, 1[3-9]…) or a landline with its
//! area code (0 + 2–3 digits, then 7–8 digits). Stored as digits with a single
//! hyphen for landlines.

use std::fmt;

use crate::error::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, FieldError> {
        let cleaned: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let cleaned = cleaned.strip_prefix("+86").unwrap_or(&cleaned).to_string();
        let digits = cleaned.bytes().all(|b| b.is_ascii_digit());
        let bad = || {
            FieldError::new(
                "phone",
                "应为11位手机号或带区号的固定电话",
                "expected an 11-digit mobile or a landline with area code",
            )
        };
        if !digits {
            return Err(bad());
        }
        let b = cleaned.as_bytes();
        if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
            return Ok(Phone(cleaned));
        }
        if b.first() == Some(&b'0') && (10..=12).contains(&b.len()) {
            // Area codes: 3 digits for 010 and 02x, 4 digits otherwise.
            let area = if b[1] == b'1' || b[1] == b'2' { 3 } else { 4 };
            let local = b.len() - area;
            if (7..=8).contains(&local) {
                return Ok(Phone(format!("{}-{}", &cleaned[..area], &cleaned[area..])));
            }
        }
        Err(bad())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_and_landlines() {
        assert_eq!(
            Phone::parse("145 0000 1234").unwrap().as_str(),
            "14500001234"
        );
        assert_eq!(
            Phone::parse("+8614500001234").unwrap().as_str(),
            "14500001234"
        );
        assert_eq!(
            Phone::parse("0355-1234567").unwrap().as_str(),
            "0355-1234567"
        );
        assert_eq!(
            Phone::parse("01012345678").unwrap().as_str(),
            "010-12345678"
        );
        for bad in ["", "12345", "24500001234", "1450000123a", "0355-12"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
