//! Synthetic Chinese personal names: a surname drawn by frequency and a one- or
//! two-character given name in the fashion of the person's birth era.

use rand::Rng;
use yilian_domain::id_number::Sex;

use crate::rng::{Weighted, chance, pick, pick_str};
use crate::tables::{GIVEN_FEMALE, GIVEN_MALE, HOMOPHONES, SURNAMES};

/// A generated name, kept in parts so that a duplicate record can alter the
/// given name the way a clerk would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameParts {
    pub surname: &'static str,
    pub given: [&'static str; 2],
    /// 1 or 2 characters.
    pub given_len: u8,
}

impl NameParts {
    /// The full name, surname first.
    pub(crate) fn to_name(self) -> String {
        let mut s = String::with_capacity(12);
        s.push_str(self.surname);
        for g in &self.given[..usize::from(self.given_len)] {
            s.push_str(g);
        }
        s
    }
}

/// Draws names.
#[derive(Debug, Clone)]
pub(crate) struct NameGen {
    surnames: Weighted,
}

impl Default for NameGen {
    fn default() -> Self {
        Self {
            surnames: Weighted::new(SURNAMES.iter().map(|(_, w)| u64::from(*w))),
        }
    }
}

/// The naming era of a birth year: 0 before 1965, 1 for 1965–1994, 2 after.
fn era(birth_year: i32) -> usize {
    match birth_year {
        ..1965 => 0,
        1965..1995 => 1,
        _ => 2,
    }
}

impl NameGen {
    /// A surname by national (Shanxi-adjusted) frequency.
    pub(crate) fn surname<R: Rng>(&self, rng: &mut R) -> &'static str {
        SURNAMES[self.surnames.sample(rng)].0
    }

    /// One given-name character typical of `sex` and the era of `birth_year`
    /// (occasionally of a neighbouring era).
    pub(crate) fn given_char<R: Rng>(
        &self,
        rng: &mut R,
        sex: Sex,
        birth_year: i32,
    ) -> &'static str {
        let mut e = era(birth_year);
        if chance(rng, 0.12) {
            e = match e {
                1 if chance(rng, 0.5) => 0,
                1 => 2,
                _ => 1,
            };
        }
        let list = match sex {
            Sex::Male => GIVEN_MALE[e],
            Sex::Female => GIVEN_FEMALE[e],
        };
        pick_str(rng, list)
    }

    /// A full name with the given surname.
    pub(crate) fn with_surname<R: Rng>(
        &self,
        rng: &mut R,
        surname: &'static str,
        sex: Sex,
        birth_year: i32,
    ) -> NameParts {
        let two = match era(birth_year) {
            0 => 0.72,
            1 => 0.70,
            _ => 0.86,
        };
        let first = self.given_char(rng, sex, birth_year);
        if !chance(rng, two) {
            return NameParts {
                surname,
                given: [first, ""],
                given_len: 1,
            };
        }
        let second = if sex == Sex::Female && chance(rng, 0.04) {
            first // 叠字, e.g. 婷婷
        } else {
            let mut c = self.given_char(rng, sex, birth_year);
            for _ in 0..3 {
                if c != first {
                    break;
                }
                c = self.given_char(rng, sex, birth_year);
            }
            c
        };
        NameParts {
            surname,
            given: [first, second],
            given_len: 2,
        }
    }

    /// A full name with a surname drawn by frequency.
    pub(crate) fn name<R: Rng>(&self, rng: &mut R, sex: Sex, birth_year: i32) -> NameParts {
        let surname = self.surname(rng);
        self.with_surname(rng, surname, sex, birth_year)
    }
}

/// Another character with the same reading as `c`, if the table has one.
pub(crate) fn homophone<R: Rng>(rng: &mut R, c: &str) -> Option<&'static str> {
    let group = HOMOPHONES.iter().find(|g| g.contains(&c))?;
    let others: Vec<&'static str> = group.iter().copied().filter(|x| *x != c).collect();
    (!others.is_empty()).then(|| *pick(rng, &others))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stage, stage_rng};
    use yilian_domain::name::to_pinyin;

    #[test]
    fn homophone_groups_share_their_pinyin_and_do_not_overlap() {
        let mut seen = std::collections::HashSet::new();
        for g in HOMOPHONES {
            let p = to_pinyin(g[0]).0;
            assert!(!p.is_empty(), "{}", g[0]);
            for c in *g {
                assert_eq!(c.chars().count(), 1, "{c}");
                assert_eq!(to_pinyin(c).0, p, "{c} vs {}", g[0]);
                assert!(seen.insert(*c), "{c} is in two groups");
            }
        }
    }

    #[test]
    fn given_names_have_homophones_often() {
        let all: Vec<&str> = GIVEN_MALE
            .iter()
            .chain(GIVEN_FEMALE.iter())
            .flat_map(|l| l.iter().copied())
            .collect();
        let with = all
            .iter()
            .filter(|c| HOMOPHONES.iter().any(|g| g.contains(c)))
            .count();
        assert!(with * 10 >= all.len() * 8, "{with} of {}", all.len());
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert!(distinct.len() >= 120, "{}", distinct.len());
    }

    #[test]
    fn names_are_two_to_four_chinese_characters() {
        let g = NameGen::default();
        let mut rng = stage_rng(3, Stage::Residents);
        for i in 0..2000 {
            let sex = if i % 2 == 0 { Sex::Male } else { Sex::Female };
            let n = g.name(&mut rng, sex, 1930 + i % 95).to_name();
            let len = n.chars().count();
            assert!((2..=4).contains(&len), "{n}");
            assert!(yilian_domain::name::PersonName::parse(&n).is_ok(), "{n}");
        }
    }
}
