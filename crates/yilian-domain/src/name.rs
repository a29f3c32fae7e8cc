//! 姓名 — a person's name, with its pinyin (full and initials) for search:
//! 张三 → `zhangsan`, `zs`.

use pinyin::ToPinyin;

use crate::error::FieldError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    pub name: String,
    pub pinyin: String,
    pub initials: String,
}

impl PersonName {
    /// 1–30 characters of Chinese, Latin letters, `·` (minority names) or spaces.
    pub fn parse(input: &str) -> Result<PersonName, FieldError> {
        let name = input.trim().to_string();
        let n = name.chars().count();
        let ok_chars = name
            .chars()
            .all(|c| c.is_alphabetic() || c == '·' || c == ' ');
        if n == 0 || n > 30 || !ok_chars {
            return Err(FieldError::new(
                "name",
                "姓名应为1至30个汉字或字母",
                "a name is 1 to 30 Chinese characters or letters",
            ));
        }
        let (pinyin, initials) = to_pinyin(&name);
        Ok(PersonName {
            name,
            pinyin,
            initials,
        })
    }
}

/// Full pinyin without tones and the initials, both lower-case ASCII; Latin
/// letters pass through, other characters are dropped.
pub fn to_pinyin(text: &str) -> (String, String) {
    let mut full = String::new();
    let mut initials = String::new();
    for (c, p) in text.chars().zip(text.to_pinyin()) {
        match p {
            Some(p) => {
                full.push_str(p.plain());
                initials.push_str(p.first_letter());
            }
            None if c.is_ascii_alphabetic() => {
                let l = c.to_ascii_lowercase();
                full.push(l);
                initials.push(l);
            }
            None => {}
        }
    }
    (full, initials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinyin_full_and_initials() {
        let n = PersonName::parse(" 王小明 ").unwrap();
        assert_eq!(
            (n.name.as_str(), n.pinyin.as_str(), n.initials.as_str()),
            ("王小明", "wangxiaoming", "wxm")
        );
        assert!(PersonName::parse("").is_err());
        assert!(PersonName::parse("王1").is_err());
        assert!(PersonName::parse(&"王".repeat(31)).is_err());
    }
}
