//! 脱敏 — masking of identity numbers and phones in lists. Whole values are
//! shown only on a detail page the caller may see, and that read is logged.

/// `110105194912310021` → `1101**********0021`: first four, last four.
pub fn mask_id_number(id: &str) -> String {
    mask_middle(id, 4, 4)
}

/// `14500001234` → `145****1234`; landlines keep the area code and last four.
pub fn mask_phone(phone: &str) -> String {
    match phone.split_once('-') {
        Some((area, local)) => format!("{area}-{}", mask_middle(local, 0, 4)),
        None => mask_middle(phone, 3, 4),
    }
}

fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_the_spec_shape() {
        assert_eq!(mask_id_number("11010519491231002X"), "1101**********002X");
        assert_eq!(mask_phone("14500001234"), "145****1234");
        assert_eq!(mask_phone("0355-1234567"), "0355-***4567");
        assert_eq!(mask_phone("12"), "**");
    }
}
