//! 医保 through the API, on both backends: claims split under the policy in
//! force with the rules named, the referral-linked benefits, the review
//! states and the ledger, policy validation, capitation settlement once,
//! recomputation, who sees which claims. Numbers are the shipped policy's
//! (config/insurance_policy.toml, 2025 and 2026 for county 140599).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    a_county_stay_is_split_under_the_policy_and_names_its_rules,
    a_claim_without_a_policy_in_force_is_422_naming_the_date,
    policies_are_validated_and_a_new_version_applies_from_its_date,
    an_in_consortium_referral_waives_the_deductible_and_skipping_one_costs_ratio_points,
    claims_are_checked_valuated_or_rejected_and_valuation_books_the_ledger,
    a_year_is_settled_once_surplus_retained_and_split,
    an_overrun_is_not_covered,
    every_claim_recomputes_identically_from_its_stored_policy,
    claims_are_scoped_and_the_resident_sees_what_they_paid,
    a_batch_of_claims_is_decided_as_each_claim_alone,
);

/// A county consortium of H1, WA and VA1; returns its id.
async fn consortium(app: &TestApp) -> i64 {
    county_consortium(app, &["WA", "VA1"]).await
}

async fn patient(app: &TestApp, seq: u16) -> i64 {
    let vd = app.login("vd_a1").await;
    app.register(
        &vd,
        resident_body(VILLAGE_A1, (1958, 4, 4), seq, "参保居民", "14500000041"),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

async fn institution_id(app: &TestApp, token: &str, code: &str) -> i64 {
    let v: Value = app
        .get(token, &format!("/api/v1/institutions?q={code}机构"))
        .await
        .json()
        .await
        .unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn stay(resident: i64, institution: Option<i64>, date: &str) -> Value {
    json!({"resident_id": resident, "institution_id": institution, "service_date": date, "setting": "inpatient",
    "items": [
        {"category": "beds", "amount_fen": 100_000},
        {"category": "drugs", "amount_fen": 200_000},
        {"category": "materials", "amount_fen": 10_000, "covered": false}
    ]})
}

fn codes(claim: &Value) -> Vec<String> {
    claim["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

async fn enter(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app.post(token, "/api/v1/claims", body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn a_county_stay_is_split_under_the_policy_and_names_its_rules(app: TestApp) {
    consortium(&app).await;
    let r = patient(&app, 41).await;
    let sp = app.login("specialist").await;
    let c = enter(&app, &sp, &stay(r, None, "2026-03-10")).await;
    // Covered 3,000 yuan − 500 deductible (county, resident scheme, 2026) =
    // 2,500 × 80 % = 2,000 to the fund; the resident pays the rest and the
    // 100 yuan of materials outside the catalogue.
    assert_eq!(c["total_fen"], 310_000);
    assert_eq!(c["covered_fen"], 300_000);
    assert_eq!(c["deductible_fen"], 50_000);
    assert_eq!(c["ratio_bp"], 8_000);
    assert_eq!(c["fund_fen"], 200_000);
    assert_eq!(c["resident_fen"], 110_000);
    assert_eq!(c["level"], "county");
    assert_eq!(c["referral_context"], "none");
    assert_eq!(c["state"], "entered");
    assert_eq!(c["policy_id"], "2026-县域-v1");
    let applied = codes(&c);
    for rule in ["uncovered_items", "deductible", "ratio"] {
        assert!(applied.contains(&rule.to_string()), "{applied:?}");
    }
    assert!(c["applied"][0]["zh"].as_str().unwrap().len() > 4);
    // The same stay in 2025 is split under 2025's version.
    let old = enter(&app, &sp, &stay(r, None, "2025-06-01")).await;
    assert_eq!(old["policy_id"], "2025-县域-v1");
    assert_eq!(old["fund_fen"], 200_000); // (3,000 − 500) × 80 %
    // A primary-level stay costs the resident less: 200 deductible, 90 %.
    let cl = app.login("clinician_a").await;
    let p = enter(&app, &cl, &stay(r, None, "2026-04-01")).await;
    assert_eq!(p["level"], "primary");
    assert_eq!(p["fund_fen"], 252_000); // (3,000 − 200) × 90 %
}

async fn a_claim_without_a_policy_in_force_is_422_naming_the_date(app: TestApp) {
    let r = patient(&app, 42).await;
    let sp = app.login("specialist").await;
    let body = assert_error(
        app.post(&sp, "/api/v1/claims", &stay(r, None, "2031-01-05"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_policy_in_force",
    )
    .await;
    assert!(
        body["message_zh"].as_str().unwrap().contains("2031-01-05"),
        "{body}"
    );
    assert!(
        body["message_en"].as_str().unwrap().contains("2031-01-05"),
        "{body}"
    );
    for bad in [
        json!({"resident_id": r, "service_date": "2026-13-01", "setting": "inpatient", "items": [{"category": "beds", "amount_fen": 1}]}),
        json!({"resident_id": r, "service_date": "2026-03-01", "setting": "ward", "items": [{"category": "beds", "amount_fen": 1}]}),
        json!({"resident_id": r, "service_date": "2026-03-01", "setting": "inpatient", "items": [{"category": "beds", "amount_fen": -5}]}),
        json!({"resident_id": r, "service_date": "2026-03-01", "setting": "inpatient", "items": []}),
        json!({"resident_id": r, "service_date": "2026-03-01", "setting": "inpatient", "items": [{"category": "gold", "amount_fen": 1}]}),
    ] {
        let res = app.post(&sp, "/api/v1/claims", &bad).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let ins = app.login("insurer").await;
    let list: Value = app.get(&ins, "/api/v1/claims").await.json().await.unwrap();
    assert_eq!(list["total"], 0, "nothing stored");
}

async fn policies_are_validated_and_a_new_version_applies_from_its_date(app: TestApp) {
    let ins = app.login("insurer").await;
    let list: Value = app
        .get(&ins, "/api/v1/insurance/policies")
        .await
        .json()
        .await
        .unwrap();
    let mut v = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "2026-县域-v1")
        .unwrap()
        .clone();
    // Overlapping 2026 under a new id.
    v["id"] = json!("2026-县域-v2");
    let overlap = assert_error(
        app.post(&ins, "/api/v1/insurance/policies", &v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_policy",
    )
    .await;
    assert!(
        overlap["message_en"].as_str().unwrap().contains("overlap"),
        "{overlap}"
    );
    // 2031 with a ratio above 100 %.
    v["id"] = json!("2031-县域-v1");
    v["valid_from"] = json!("2031-01-01");
    v["valid_to"] = json!("2031-12-31");
    let mut bad = v.clone();
    bad["schemes"]["resident"]["inpatient"]["levels"]["village"]["ratio_bp"] = json!(10_001);
    assert_error(
        app.post(&ins, "/api/v1/insurance/policies", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_policy",
    )
    .await;
    // A county ratio above the primary one does not favour primary care.
    let mut flipped = v.clone();
    flipped["schemes"]["resident"]["inpatient"]["levels"]["county"]["ratio_bp"] = json!(9_500);
    assert_error(
        app.post(&ins, "/api/v1/insurance/policies", &flipped).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_policy",
    )
    .await;
    let sp = app.login("specialist").await;
    assert_eq!(
        app.post(&sp, "/api/v1/insurance/policies", &v)
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "only the insurer publishes"
    );
    assert_eq!(
        app.post(&ins, "/api/v1/insurance/policies", &v)
            .await
            .status(),
        StatusCode::CREATED
    );
    let r = patient(&app, 43).await;
    let c = enter(&app, &sp, &stay(r, None, "2031-01-05")).await;
    assert_eq!(c["policy_id"], "2031-县域-v1");
}

async fn an_in_consortium_referral_waives_the_deductible_and_skipping_one_costs_ratio_points(
    app: TestApp,
) {
    consortium(&app).await;
    let r = patient(&app, 44).await;
    let id = accepted_referral_to_h1(&app, r).await;
    let today = yilian_server::state::today().to_string();
    let sp = app.login("specialist").await;
    // The accepted referral is found: no second deductible.
    let c = enter(&app, &sp, &stay(r, None, &today)).await;
    assert_eq!(c["referral_context"], "referred_in_consortium");
    assert_eq!(c["referral_id"].as_i64(), Some(id));
    assert_eq!(c["deductible_fen"], 0);
    assert_eq!(c["fund_fen"], 240_000); // 3,000 × 80 %
    assert!(codes(&c).contains(&"deductible_waived_in_consortium".to_string()));
    // The tertiary hospital without a referral: 60 % − 10 points, after 1,200.
    let ins = app.login("insurer").await;
    let t3 = institution_id(&app, &ins, "T3").await;
    let t = enter(&app, &ins, &stay(r, Some(t3), "2026-05-05")).await;
    assert_eq!(t["level"], "tertiary");
    assert_eq!(t["referral_context"], "missing_required");
    assert_eq!(t["ratio_bp"], 5_000);
    assert_eq!(t["deductible_fen"], 120_000);
    assert_eq!(t["fund_fen"], 90_000); // (3,000 − 1,200) × 50 %
    assert_eq!(t["in_county"], 0);
    assert!(codes(&t).contains(&"missing_referral_penalty".to_string()));
    // A clinician cannot enter a claim for another institution.
    let h1 = institution_id(&app, &ins, "H1").await;
    let cl = app.login("clinician_a").await;
    assert_eq!(
        app.post(&cl, "/api/v1/claims", &stay(r, Some(h1), "2026-05-05"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

/// An upward referral of the resident from VA1 to H1, accepted; its id.
async fn accepted_referral_to_h1(app: &TestApp, resident: i64) -> i64 {
    let vd = app.login("vd_a1").await;
    let referral: Value = app
        .post(&vd, "/api/v1/referrals", &json!({"resident_id": resident, "direction": "up", "to_institution_code": "H1",
            "to_department": "心内科", "icd10": "I10", "diagnosis": "高血压3级", "reason": "血压控制不佳，需调整方案",
            "justification": "规范治疗3个月血压仍未达标"}))
        .await
        .json()
        .await
        .unwrap();
    let desk = app.login("desk").await;
    let id = referral["id"].as_i64().unwrap();
    let accepted = app
        .post(
            &desk,
            &format!("/api/v1/referrals/{id}/events"),
            &json!({"event": "accept"}),
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    id
}

/// The generator's batch path decides every claim exactly as the API's
/// one-claim path: the same facts (found and named referrals, the year to
/// date, the consortium charged), the same rules, the same refusals.
async fn a_batch_of_claims_is_decided_as_each_claim_alone(app: TestApp) {
    use yilian_server::insurance::{ClaimRequest, ItemRequest, assess, assess_batch, policies};
    consortium(&app).await;
    let referred = patient(&app, 47).await;
    let referral = accepted_referral_to_h1(&app, referred).await;
    let paid_before = patient(&app, 48).await;
    let unreferred = patient(&app, 49).await;
    let ins = app.login("insurer").await;
    let h1 = institution_id(&app, &ins, "H1").await;
    let t3 = institution_id(&app, &ins, "T3").await;
    let today = yilian_server::state::today().to_string();
    // An earlier stay this year: the fund has paid the resident something.
    let earlier = enter(
        &app,
        &ins,
        &stay(paid_before, Some(h1), &format!("{}-01-02", &today[..4])),
    )
    .await;
    assert!(earlier["fund_fen"].as_i64().unwrap() > 0);
    let claim =
        |resident: i64, institution: i64, date: &str, referral_id: Option<i64>| ClaimRequest {
            resident_id: resident,
            institution_id: Some(institution),
            service_date: date.into(),
            setting: "inpatient".into(),
            items: vec![ItemRequest {
                category: "beds".into(),
                amount_fen: 300_000,
                covered: Some(true),
            }],
            referral_id,
            encounter_entry_id: None,
        };
    let claims = [
        (claim(referred, h1, &today, None), h1),
        (claim(paid_before, h1, &today, None), h1),
        (claim(unreferred, t3, &today, None), t3),
        // Someone else's referral, a resident who does not exist, a day
        // that is not a date, a day no policy covers.
        (claim(unreferred, h1, &today, Some(referral)), h1),
        (claim(9_999_999, h1, &today, None), h1),
        (claim(referred, h1, "2026-13-01", None), h1),
        (claim(paid_before, h1, "2001-06-01", None), h1),
    ];
    let store = &app.db.store;
    let versions = policies(store).await.unwrap();
    let describe = |r: &Result<_, yilian_server::error::ApiError>| match r {
        Ok((c, a)) => format!("{c:?} {a:?}"),
        Err(e) => format!("error {}", e.body.code),
    };
    let mut c = store.write().await.unwrap();
    let batch = assess_batch(&mut c, &versions, &claims).await.unwrap();
    assert_eq!(batch.len(), claims.len());
    let mut alone = Vec::new();
    for (req, institution) in &claims {
        alone.push(describe(
            &assess(&mut c, &versions, req, *institution).await,
        ));
    }
    let batch: Vec<String> = batch.iter().map(describe).collect();
    assert_eq!(batch, alone);
    // And the facts were the right ones.
    assert!(
        batch[0].contains(&format!("referral_id: Some({referral})")),
        "{}",
        batch[0]
    );
    assert!(batch[0].contains("referred_in_consortium"), "{}", batch[0]);
    let ytd = format!("ytd_fund_fen: {}", earlier["fund_fen"]);
    assert!(batch[1].contains(&ytd), "{}", batch[1]);
    assert!(batch[2].contains("missing_required"), "{}", batch[2]);
    assert_eq!(
        batch[3..],
        [
            "error invalid_claim",
            "error not_found",
            "error invalid_claim",
            "error no_policy_in_force"
        ]
    );
    // A stored scheme that does not read is adjudicated as the residents'
    // scheme, with that scheme's year to date.
    yilian_store::sql::Sql::new("UPDATE residents SET insurance = 'unreadable' WHERE id = ")
        .bind(paid_before)
        .execute(&mut c)
        .await
        .unwrap();
    let (claim, _) = assess(&mut c, &versions, &claims[1].0, h1).await.unwrap();
    assert_eq!(claim.scheme, "resident");
    assert_eq!(claim.ytd_fund_fen, earlier["fund_fen"].as_i64().unwrap());
}

async fn claims_are_checked_valuated_or_rejected_and_valuation_books_the_ledger(app: TestApp) {
    let cons = consortium(&app).await;
    let r = patient(&app, 45).await;
    let sp = app.login("specialist").await;
    let a = enter(&app, &sp, &stay(r, None, "2026-03-10")).await;
    let b = enter(&app, &sp, &stay(r, None, "2026-03-12")).await;
    let ins = app.login("insurer").await;
    let go = |id: &Value, step: &str| format!("/api/v1/claims/{id}/{step}");
    assert_error(
        app.post(&ins, &go(&a["id"], "valuate"), &json!({})).await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    assert_eq!(
        app.post(&sp, &go(&a["id"], "check"), &json!({}))
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "the hospital does not review its own claims"
    );
    let checked: Value = app
        .post(&ins, &go(&a["id"], "check"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(checked["state"], "checked");
    let valuated: Value = app
        .post(&ins, &go(&a["id"], "valuate"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(valuated["state"], "valuated");
    assert_eq!(
        app.post(&ins, &go(&b["id"], "reject"), &json!({"reason": ""}))
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let rejected: Value = app
        .post(
            &ins,
            &go(&b["id"], "reject"),
            &json!({"reason": "住院天数与医嘱不符"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["reject_reason"], "住院天数与医嘱不符");
    // The valuated fund share is charged to the consortium in March.
    let pos: Value = app
        .get(&ins, "/api/v1/insurance/capitation?year=2026")
        .await
        .json()
        .await
        .unwrap();
    let p = pos
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["consortium_id"] == cons)
        .unwrap();
    assert_eq!(p["spent_by_month"][2], 200_000);
    assert_eq!(p["spent_by_month"][3], 0);
    assert_eq!(p["leakage"]["claims"], 1);
    // Budget = 500 yuan × the county's insured residents (resident scheme).
    let insured = p["insured_total"].as_i64().unwrap();
    assert!(insured >= 1);
    assert_eq!(p["budget_fen"], 50_000 * insured);
}

async fn a_year_is_settled_once_surplus_retained_and_split(app: TestApp) {
    let cons = consortium(&app).await;
    let r = patient(&app, 46).await;
    let sp = app.login("specialist").await;
    let ins = app.login("insurer").await;
    // One small valuated stay in 2025: well under the budget.
    let c = enter(
        &app,
        &sp,
        &json!({"resident_id": r, "service_date": "2025-05-05", "setting": "outpatient",
            "items": [{"category": "drugs", "amount_fen": 10_000}]}),
    )
    .await;
    for step in ["check", "valuate"] {
        app.post(
            &ins,
            &format!("/api/v1/claims/{}/{step}", c["id"]),
            &json!({}),
        )
        .await;
    }
    let body = json!({"consortium_id": cons, "year": 2025});
    let res = app.post(&ins, "/api/v1/insurance/settlements", &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let s: Value = res.json().await.unwrap();
    // 5,000 fen to the fund (50 % county outpatient 2025) against 470 yuan
    // per insured resident.
    assert_eq!(s["spent_fen"], 5_000);
    let budget = s["budget_fen"].as_i64().unwrap();
    assert_eq!(budget, 47_000 * s["insured"].as_i64().unwrap());
    assert_eq!(s["surplus_fen"], budget - 5_000);
    assert_eq!(s["overrun_fen"], 0);
    let parts: Vec<(i64, i64)> = serde_json::from_str(s["distribution"].as_str().unwrap()).unwrap();
    assert_eq!(parts.iter().map(|(_, f)| f).sum::<i64>(), budget - 5_000);
    assert_error(
        app.post(&ins, "/api/v1/insurance/settlements", &body).await,
        StatusCode::CONFLICT,
        "already_settled",
    )
    .await;
    // The current year is not over.
    let this_year = chrono::Datelike::year(&yilian_server::state::today());
    assert_eq!(
        app.post(
            &ins,
            "/api/v1/insurance/settlements",
            &json!({"consortium_id": cons, "year": this_year})
        )
        .await
        .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn an_overrun_is_not_covered(app: TestApp) {
    let cons = consortium(&app).await;
    let r = patient(&app, 49).await;
    let sp = app.login("specialist").await;
    let ins = app.login("insurer").await;
    // A 2025 stay whose fund share exceeds the consortium's whole budget.
    let c = enter(
        &app,
        &sp,
        &json!({"resident_id": r, "service_date": "2025-07-07", "setting": "inpatient",
            "items": [{"category": "treatment", "amount_fen": 5_000_000}]}),
    )
    .await;
    for step in ["check", "valuate"] {
        app.post(
            &ins,
            &format!("/api/v1/claims/{}/{step}", c["id"]),
            &json!({}),
        )
        .await;
    }
    let fund = c["fund_fen"].as_i64().unwrap();
    assert_eq!(fund, 3_960_000); // (50,000 − 500) × 80 %
    let s: Value = app
        .post(
            &ins,
            "/api/v1/insurance/settlements",
            &json!({"consortium_id": cons, "year": 2025}),
        )
        .await
        .json()
        .await
        .unwrap();
    let budget = s["budget_fen"].as_i64().unwrap();
    assert!(budget < fund, "{s}");
    assert_eq!(s["spent_fen"], fund);
    assert_eq!(s["overrun_fen"], fund - budget);
    assert_eq!(s["surplus_fen"], 0);
    assert_eq!(
        s["fund_pays_fen"], budget,
        "超支不补: the fund pays the budget, no more"
    );
    let parts: Vec<(i64, i64)> = serde_json::from_str(s["distribution"].as_str().unwrap()).unwrap();
    assert!(parts.iter().all(|(_, f)| *f == 0));
}

async fn every_claim_recomputes_identically_from_its_stored_policy(app: TestApp) {
    consortium(&app).await;
    let r = patient(&app, 47).await;
    let sp = app.login("specialist").await;
    for (date, amount) in [
        ("2026-01-10", 150_000),
        ("2026-02-10", 90_000_000),
        ("2026-03-10", 400_000),
    ] {
        enter(
            &app,
            &sp,
            &json!({"resident_id": r, "service_date": date, "setting": "inpatient",
                "items": [{"category": "treatment", "amount_fen": amount}]}),
        )
        .await;
    }
    let ins = app.login("insurer").await;
    let out: Value = app
        .post(&ins, "/api/v1/insurance/recompute?year=2026", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["claims"], 3);
    assert_eq!(out["identical"], 3);
    assert_eq!(out["differing"], json!([]));
    // The 900,000-yuan stay reached the 30万 yearly cap; the next stay gets nothing from the fund.
    let list: Value = app.get(&ins, "/api/v1/claims").await.json().await.unwrap();
    let march = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service_date"] == "2026-03-10")
        .unwrap();
    assert_eq!(march["fund_fen"], 0);
    assert!(codes(march).contains(&"yearly_cap".to_string()));
    // Tampering with a stored amount is caught.
    let mut c = app.db.store.write().await.unwrap();
    yilian_store::sql::Sql::new("UPDATE claims SET fund_fen = fund_fen + 1, resident_fen = resident_fen - 1 WHERE service_date = '2026-01-10'")
        .execute(&mut c)
        .await
        .unwrap();
    c.commit().await.unwrap();
    let out: Value = app
        .post(&ins, "/api/v1/insurance/recompute?year=2026", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["identical"], 2);
    assert_eq!(out["differing"].as_array().unwrap().len(), 1);
}

async fn claims_are_scoped_and_the_resident_sees_what_they_paid(app: TestApp) {
    let body = resident_body(VILLAGE_A1, (1961, 6, 6), 48, "参保居民", "14500000048");
    let id_number = body["id_number"].as_str().unwrap().to_string();
    let vd = app.login("vd_a1").await;
    let r = app.register(&vd, body).await["id"].as_i64().unwrap();
    let admin = app.login("admin").await;
    app.post(&admin, "/api/v1/users", &json!({"username": "pt_ins", "password": PASSWORD, "role": "resident", "scope": id_number}))
        .await;
    let sp = app.login("specialist").await;
    let c = enter(&app, &sp, &stay(r, None, "2026-03-10")).await;
    let ins = app.login("insurer").await;
    let list: Value = app.get(&ins, "/api/v1/claims").await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    let masked = list["items"][0]["resident_id_number"].as_str().unwrap();
    assert!(masked.contains('*') && masked != id_number, "{masked}");
    // Another township's clinician sees none of H1's claims.
    let other = app.login("clinician_b").await;
    let theirs: Value = app
        .get(&other, "/api/v1/claims")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["total"], 0);
    assert_eq!(
        app.get(&other, &format!("/api/v1/claims/{}", c["id"]))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&other, "/api/v1/insurance/capitation")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let pt = app.login("pt_ins").await;
    let mine: Value = app.get(&pt, "/api/v1/claims").await.json().await.unwrap();
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["resident_fen"], 110_000);
    assert_eq!(
        app.post(&pt, "/api/v1/claims", &stay(r, None, "2026-03-11"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}
