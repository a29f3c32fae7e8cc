//! Duplicate detection against the county generator's ground truth: the
//! quality targets (precision ≥ 0.99, recall ≥ 0.97) on its deliberate
//! duplicates.

use chrono::NaiveDate;
use yilian_analytics::linkage::{LinkConfig, LinkRecord, evaluate, find_duplicates};
use yilian_domain::name::to_pinyin;
use yilian_synth::{CountySpec, county, residents};

#[test]
fn generated_duplicates_are_found_with_target_precision_and_recall() {
    let spec = CountySpec::new(31, 60_000, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
    let c = county(&spec);
    let mut records = Vec::new();
    let mut truth = Vec::new();
    for r in residents(&spec, &c) {
        let (pinyin, initials) = to_pinyin(&r.name);
        if let Some(orig) = r.duplicate_of {
            truth.push((orig as i64, r.key as i64));
        }
        records.push(LinkRecord {
            id: r.key as i64,
            name: r.name,
            pinyin,
            initials,
            birth_date: r.birth_date,
            sex: r.sex,
            phone: r.phone,
            region_code: r.region_code,
            address: r.address,
        });
    }
    let (pairs, stats) = find_duplicates(&records, &LinkConfig::default());
    let found: Vec<(i64, i64)> = pairs.iter().map(|p| (p.a, p.b)).collect();
    let q = evaluate(&found, &truth);
    println!("{stats:?} {q:?}");
    assert!(truth.len() > 1000, "the generator injected duplicates");
    assert!(q.precision >= 0.99, "{q:?}");
    assert!(q.recall >= 0.97, "{q:?}");
}
