//! Search parameters: only the ones a resource declares in [`super::support`]
//! are accepted (an unknown one is refused, not silently ignored), plus
//! `_count`, `_offset`, `_include` and `_format`.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use yilian_fhir::capability::ResourceSupport;
use yilian_fhir::{IssueType, Outcome};

use super::{FhirError, FhirResult};

/// Parsed search parameters.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The resource's own parameters, in request order.
    pub pairs: Vec<(String, String)>,
    pub include: Vec<String>,
    pub count: u32,
    pub offset: u64,
}

/// A date parameter as a half-open range in China Standard Time:
/// `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateBound {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

impl DateBound {
    /// The stored-text bounds (`YYYY-MM-DDTHH:MM:SS`).
    pub fn text(&self) -> (Option<String>, Option<String>) {
        let f = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        (self.from.map(f), self.to.map(f))
    }
    /// The date bounds (`YYYY-MM-DD`, `to` exclusive) for date-only fields.
    pub fn dates(&self) -> (Option<String>, Option<String>) {
        let up = |t: NaiveDateTime| {
            // An exclusive bound inside a day still admits that day.
            let d = t.date();
            if t.time() == chrono::NaiveTime::MIN {
                d
            } else {
                d + Duration::days(1)
            }
        };
        (
            self.from.map(|t| {
                let d = t.date();
                if t.time() == chrono::NaiveTime::MIN {
                    d.to_string()
                } else {
                    (d + Duration::days(1)).to_string()
                }
            }),
            self.to.map(|t| up(t).to_string()),
        )
    }
}

fn bad(param: &str, zh: String, en: String) -> FhirError {
    FhirError(Outcome::new(IssueType::Value, "invalid_search", param, zh, en).with_status(400))
}

/// The range `[start, end)` a FHIR date/dateTime value covers.
fn value_range(v: &str) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let day = |d: NaiveDate| d.and_hms_opt(0, 0, 0);
    match v.len() {
        4 => {
            let y: i32 = v.parse().ok()?;
            let s = NaiveDate::from_ymd_opt(y, 1, 1)?;
            Some((day(s)?, day(NaiveDate::from_ymd_opt(y + 1, 1, 1)?)?))
        }
        7 => {
            let s = NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d").ok()?;
            let e = if s.month() == 12 {
                NaiveDate::from_ymd_opt(s.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(s.year(), s.month() + 1, 1)?
            };
            Some((day(s)?, day(e)?))
        }
        10 => {
            let s = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
            Some((day(s)?, day(s + Duration::days(1))?))
        }
        _ => {
            let t = yilian_fhir::json::parse_date_time_cst(v)?;
            Some((t, t + Duration::seconds(1)))
        }
    }
}

/// Reads one `date` value with its prefix into bounds.
pub fn date_bound(param: &str, raw: &str) -> FhirResult<DateBound> {
    let (prefix, v) = match raw.get(..2) {
        Some(p @ ("eq" | "ne" | "gt" | "lt" | "ge" | "le" | "sa" | "eb" | "ap")) => (p, &raw[2..]),
        _ => ("eq", raw),
    };
    let (s, e) = value_range(v).ok_or_else(|| {
        bad(
            param,
            format!("参数 {param} 的日期 {v} 无效（YYYY、YYYY-MM、YYYY-MM-DD 或带时区的时间）"),
            format!("parameter {param}: {v} is not a FHIR date or dateTime"),
        )
    })?;
    Ok(match prefix {
        "eq" | "ap" => DateBound {
            from: Some(s),
            to: Some(e),
        },
        "gt" | "sa" => DateBound {
            from: Some(e),
            to: None,
        },
        "ge" => DateBound {
            from: Some(s),
            to: None,
        },
        "lt" | "eb" => DateBound {
            from: None,
            to: Some(s),
        },
        "le" => DateBound {
            from: None,
            to: Some(e),
        },
        _ => {
            return Err(bad(
                param,
                format!("参数 {param} 不支持前缀 {prefix}"),
                format!("parameter {param}: prefix {prefix} is not supported"),
            ));
        }
    })
}

impl Params {
    /// Parses a query string against what `support` declares.
    pub fn parse(query: &str, support: &ResourceSupport) -> FhirResult<Params> {
        let mut out = Params::default();
        let (mut count, mut offset) = (None, None);
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let (k, v) = (k.into_owned(), v.into_owned());
            match k.as_str() {
                "_count" => count = Some(v),
                "_offset" => offset = Some(v),
                "_format"
                    if matches!(
                        v.as_str(),
                        "json" | "application/fhir+json" | "application/json"
                    ) => {}
                "_include" => {
                    if !support.search_include.contains(&v) {
                        return Err(bad(
                            "_include",
                            format!("不支持 _include={v}"),
                            format!("_include={v} is not supported"),
                        ));
                    }
                    out.include.push(v);
                }
                name if support.search_params.iter().any(|p| p.name == name) => {
                    out.pairs.push((k, v));
                }
                _ => {
                    return Err(bad(
                        &k,
                        format!("{} 不支持检索参数 {k}", support.resource_type),
                        format!(
                            "{} does not support the search parameter {k}",
                            support.resource_type
                        ),
                    ));
                }
            }
        }
        let (c, o) = yilian_fhir::bundle::paging(count.as_deref(), offset.as_deref())?;
        out.count = c;
        out.offset = o;
        Ok(out)
    }

    /// The parameters to repeat in `link` URLs (without paging).
    pub fn echo(&self) -> Vec<(String, String)> {
        let mut v = self.pairs.clone();
        v.extend(
            self.include
                .iter()
                .map(|i| ("_include".to_string(), i.clone())),
        );
        v
    }

    /// The single value of `name`, if given (a repeated one is refused).
    pub fn one(&self, name: &str) -> FhirResult<Option<&str>> {
        let mut it = self.pairs.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(bad(
                name,
                format!("参数 {name} 只能出现一次"),
                format!("parameter {name} may be given once"),
            ));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    /// `_id` as a number (`None` if absent; a non-number matches nothing → `Some(0)`).
    pub fn id(&self) -> FhirResult<Option<i64>> {
        Ok(self.one("_id")?.map(|v| v.parse().unwrap_or(0)))
    }

    /// A `token` parameter: `(system, code)` from `system|code` or `code`.
    pub fn token(&self, name: &str) -> FhirResult<Option<(Option<String>, String)>> {
        Ok(self.one(name)?.map(|v| match v.split_once('|') {
            Some((s, c)) => ((!s.is_empty()).then(|| s.to_string()), c.to_string()),
            None => (None, v.to_string()),
        }))
    }

    /// A reference parameter to `rt`: `rt/123` or `123` → 123.
    pub fn reference(&self, name: &str, rt: &str) -> FhirResult<Option<i64>> {
        let Some(v) = self.one(name)? else {
            return Ok(None);
        };
        let id = v.strip_prefix(&format!("{rt}/")).unwrap_or(v);
        id.parse::<i64>().map(Some).map_err(|_| {
            bad(
                name,
                format!("参数 {name} 应为 {rt}/id"),
                format!("parameter {name} must be {rt}/id"),
            )
        })
    }

    /// Every `date`-typed value of `name`, intersected into one range.
    pub fn date(&self, name: &str) -> FhirResult<DateBound> {
        let mut b = DateBound::default();
        for (_, v) in self.pairs.iter().filter(|(k, _)| k == name) {
            let d = date_bound(name, v)?;
            b.from = b.from.max(d.from);
            b.to = match (b.to, d.to) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
        Ok(b)
    }

    /// The store's paging for this search.
    pub fn paging(&self) -> yilian_store::Paging {
        yilian_store::Paging::new(
            Some(i64::from(self.count.max(1))),
            Some(i64::try_from(self.offset).unwrap_or(i64::MAX)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn date_prefixes_make_half_open_ranges() {
        let eq = date_bound("date", "2026-03").unwrap();
        assert_eq!(eq.from, Some(t("2026-03-01T00:00:00")));
        assert_eq!(eq.to, Some(t("2026-04-01T00:00:00")));
        let gt = date_bound("date", "gt2026-03-05").unwrap();
        assert_eq!((gt.from, gt.to), (Some(t("2026-03-06T00:00:00")), None));
        let le = date_bound("date", "le2026").unwrap();
        assert_eq!((le.from, le.to), (None, Some(t("2027-01-01T00:00:00"))));
        let lt = date_bound("date", "lt2026-03-05T10:00:00+08:00").unwrap();
        assert_eq!(lt.to, Some(t("2026-03-05T10:00:00")));
        // UTC input becomes China Standard Time.
        let ge = date_bound("date", "ge2026-03-05T02:00:00Z").unwrap();
        assert_eq!(ge.from, Some(t("2026-03-05T10:00:00")));
        assert!(date_bound("date", "ne2026").is_err());
        assert!(date_bound("date", "2026-13").is_err());
        assert!(date_bound("date", "yesterday").is_err());
    }

    #[test]
    fn date_bounds_round_to_days_for_date_fields() {
        let b = date_bound("birthdate", "1960").unwrap();
        assert_eq!(
            b.dates(),
            (Some("1960-01-01".into()), Some("1961-01-01".into()))
        );
        let b = date_bound("birthdate", "gt1960-05-01").unwrap();
        assert_eq!(b.dates(), (Some("1960-05-02".into()), None));
    }
}
