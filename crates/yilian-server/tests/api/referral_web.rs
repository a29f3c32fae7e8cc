//! The 双向转诊 pages through browser-like clients (one cookie session per
//! user, forms with their CSRF token), on both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    web_referral_from_form_to_appointment_on_the_resident_page,
    web_referral_refusals_decline_redirect_and_gates,
);

/// A county consortium of H1, WA and VA1 (their referrals are in-consortium).
async fn consortium(app: &TestApp) {
    county_consortium(app, &["WA", "VA1"]).await;
}

async fn patient(app: &TestApp, token: &str, seq: u16) -> i64 {
    app.register(
        token,
        resident_body(VILLAGE_A1, (1955, 3, 3), seq, "转诊患者", "14500000021"),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

/// The referral form's fields for an up-referral to `to`.
fn up_form<'a>(
    csrf: &'a str,
    resident: &'a str,
    to: &'a str,
    icd10: &'a str,
    justification: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("resident_id", resident),
        ("direction", "up"),
        ("to_institution_code", to),
        ("to_department", "心内科"),
        ("icd10", icd10),
        ("diagnosis", "高血压3级"),
        ("reason", "血压控制不佳，需调整方案"),
        ("urgency", "routine"),
        ("green_channel", ""),
        ("justification", justification),
        ("summary", "既往高血压10年"),
        ("results", ""),
        ("follow_up_plan", ""),
    ]
}

/// The referral id of a detail page's URL.
fn referral_id(r: &reqwest::Response) -> i64 {
    let path = r.url().path().to_string();
    path.strip_prefix("/referrals/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("redirected to a referral, got {path}"))
}

async fn web_referral_from_form_to_appointment_on_the_resident_page(app: TestApp) {
    consortium(&app).await;
    let vd_token = app.login("vd_a1").await;
    let rid = patient(&app, &vd_token, 11).await;
    let rid_s = rid.to_string();
    let vd = browser(&app, "vd_a1").await;

    // 发起转诊 from the resident page.
    let (_, home) = page(&app, &vd, "/").await;
    assert!(home.contains("双向转诊"), "the nav offers referrals");
    let (_, detail) = page(&app, &vd, &format!("/residents/{rid}")).await;
    assert!(detail.contains(&format!("/referrals/new?resident_id={rid}")));
    let (status, form) = page(&app, &vd, &format!("/referrals/new?resident_id={rid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("发起转诊") && form.contains("转诊患者"));
    let inside = between(&form, "本医联体内", "</optgroup>");
    assert!(
        inside.contains("H1机构") && inside.contains("青禾县医共体"),
        "consortium members first, with the hint: {inside}"
    );
    assert!(form.contains("T3机构"), "hospitals outside are offered too");
    assert!(
        !form.contains("value=\"VA1\""),
        "never the caller's own institution"
    );

    // Hypertension is a first-contact condition: refused without a reason,
    // and the form comes back with the message and what was entered.
    let csrf = csrf_of(&form);
    let r = submit(
        &app,
        &vd,
        "/referrals/new",
        &up_form(&csrf, &rid_s, "H1", "I10", ""),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = r.text().await.unwrap();
    assert!(again.contains("说明理由"), "the rule's message is shown");
    assert!(
        again.contains("血压控制不佳，需调整方案")
            && again.contains("value=\"I10\"")
            && again.contains("既往高血压10年")
            && again.contains("<option value=\"H1\" selected>"),
        "the entered values are kept"
    );
    let out: Value = app
        .get(&vd_token, "/api/v1/referrals/outbox")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out, json!([]), "the refused referral stored nothing");

    let r = submit(
        &app,
        &vd,
        "/referrals/new",
        &up_form(
            &csrf_of(&again),
            &rid_s,
            "H1",
            "I10",
            "规范治疗3个月血压仍未达标",
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = referral_id(&r);
    let shown = r.text().await.unwrap();
    assert!(shown.contains("已提交") && shown.contains("规则核查结果"));
    assert!(
        shown.contains("原发性高血压") && shown.contains("基层首诊"),
        "the info finding is listed"
    );
    assert!(shown.contains("规范治疗3个月血压仍未达标"));
    assert!(
        shown.contains("取消转诊") && !shown.contains(">接收</button>"),
        "the referring side may cancel, not accept"
    );

    // The county hospital's referral desk: inbox, accept, open slots, schedule.
    let desk = browser(&app, "desk").await;
    let (status, bench) = page(&app, &desk, "/referrals").await;
    assert_eq!(status, StatusCode::OK);
    let inbox = between(&bench, "id=\"inbox\"", "id=\"outbox\"");
    assert!(inbox.contains("收到的转诊"));
    let row = inbox
        .split("<tr")
        .find(|row| row.contains(&format!("href=\"/referrals/{id}\"")))
        .expect("the referral is in the inbox");
    assert!(
        row.contains("转诊患者") && row.contains("VA1机构") && row.contains("已提交"),
        "{row}"
    );
    let (_, shown) = page(&app, &desk, &format!("/referrals/{id}")).await;
    assert!(shown.contains(">接收</button>") && shown.contains("拒绝"));
    let r = submit(
        &app,
        &desk,
        &format!("/referrals/{id}/events"),
        &[("csrf", &csrf_of(&shown)), ("event", "accept")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.url().path(), format!("/referrals/{id}"));
    let shown = r.text().await.unwrap();
    assert!(shown.contains("已接收") && shown.contains("未来14天没有空闲号源"));

    let (status, calendar) = page(&app, &desk, "/slots").await;
    assert_eq!(status, StatusCode::OK);
    assert!(calendar.contains("号源日历") && calendar.contains("放号"));
    let day = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let start = format!("{day}T09:00");
    let r = submit(
        &app,
        &desk,
        "/slots",
        &[
            ("csrf", &csrf_of(&calendar)),
            ("starts_at", &start),
            ("minutes", "15"),
            ("count", "10"),
            ("department", "心内科"),
            ("reserved_percent", "20"),
            ("release_hours", "24"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.url().path(), "/slots");
    let calendar = r.text().await.unwrap();
    assert!(calendar.contains("已放号 10 个"));
    assert!(
        calendar.contains("已预约 0 · 空闲 8 · 转诊预留 2"),
        "the day shows booked, free and reserved slots"
    );

    let (_, shown) = page(&app, &desk, &format!("/referrals/{id}")).await;
    let options = between(&shown, "name=\"slot_id\"", "</select>");
    assert!(options.contains("（转诊预留）") && options.contains("09:00–09:15"));
    let slot = options
        .split("<option value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a free slot is offered")
        .to_string();
    let r = submit(
        &app,
        &desk,
        &format!("/referrals/{id}/events"),
        &[
            ("csrf", &csrf_of(&shown)),
            ("event", "schedule"),
            ("slot_id", &slot),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let shown = r.text().await.unwrap();
    assert!(shown.contains("已预约") && shown.contains(&format!("{day} 09:00")));
    let (_, calendar) = page(&app, &desk, "/slots").await;
    assert!(calendar.contains("已预约 1 · 空闲 8 · 转诊预留 1"));

    // 改约: the desk moves the appointment to 09:15; still one booking on the day.
    let (_, shown) = page(&app, &desk, &format!("/referrals/{id}")).await;
    let rebook = between(&shown, "id=\"rebook\"", "</details>");
    let later = rebook
        .split("<option value=\"")
        .find(|o| o.contains("09:15–09:30"))
        .and_then(|o| o.split('"').next())
        .expect("09:15 is offered")
        .to_string();
    assert!(
        !shown.contains("id=\"no-show\""),
        "no no-show before the time"
    );
    let r = submit(
        &app,
        &desk,
        &format!("/referrals/{id}/appointment"),
        &[
            ("csrf", &csrf_of(&shown)),
            ("action", "reschedule"),
            ("slot_id", &later),
        ],
    )
    .await;
    assert_eq!(r.url().path(), format!("/referrals/{id}"));
    assert!(r.text().await.unwrap().contains(&format!("{day} 09:15")));
    let (_, calendar) = page(&app, &desk, "/slots").await;
    // The reserved 09:00 slot is free (and reserved) again; 09:15 is booked.
    assert!(
        calendar.contains("已预约 1 · 空闲 7 · 转诊预留 2"),
        "the old slot was freed: {}",
        between(&calendar, "共 10", "</small>")
    );

    // The village doctor sees it on the resident's page: referral and appointment.
    let (_, detail) = page(&app, &vd, &format!("/residents/{rid}")).await;
    let section = between(&detail, "id=\"referrals\"", "</section>");
    assert!(
        section.contains("已预约") && section.contains("H1机构"),
        "{section}"
    );
    let appointments = between(section, "<h3>预约</h3>", "</table>");
    assert!(
        appointments.contains(&format!("{day} 09:00")) && appointments.contains("心内科"),
        "{appointments}"
    );

    // The resident's own portal.
    let admin = app.login("admin").await;
    let who: Value = app
        .get(&admin, &format!("/api/v1/residents/{rid}"))
        .await
        .json()
        .await
        .unwrap();
    let u = json!({"username": "jumin_r", "password": PASSWORD, "role": "resident", "scope": who["id_number"]});
    assert_eq!(
        app.post(&admin, "/api/v1/users", &u).await.status(),
        StatusCode::CREATED
    );
    let own = browser(&app, "jumin_r").await;
    let (status, me) = page(&app, &own, "/me").await;
    assert_eq!(status, StatusCode::OK);
    let mine = between(&me, "我的转诊与预约", "</section>");
    assert!(
        mine.contains("待就诊预约")
            && mine.contains(&format!("{day} 09:00"))
            && mine.contains("上转至 H1机构")
            && mine.contains("已预约"),
        "{mine}"
    );
    assert!(!me.contains("双向转诊"), "residents get no referral bench");

    // Arrival and completion close it; the trail lists every step.
    for event in ["arrive", "complete"] {
        let (_, shown) = page(&app, &desk, &format!("/referrals/{id}")).await;
        let r = submit(
            &app,
            &desk,
            &format!("/referrals/{id}/events"),
            &[("csrf", &csrf_of(&shown)), ("event", event)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "{event}");
    }
    let (_, shown) = page(&app, &vd, &format!("/referrals/{id}")).await;
    let trail = between(&shown, "id=\"trail\"", "</section>");
    for step in [
        "创建",
        "接收",
        "预约",
        "到诊",
        "完成",
        "转诊服务中心",
        "乡村医生",
    ] {
        assert!(trail.contains(step), "{step} in {trail}");
    }
    assert!(shown.contains("已完成") && !shown.contains("id=\"actions\""));

    // Institutions on neither side, outside the resident's area: not found.
    for outsider in ["clinician_b", "vd_a2"] {
        let other = browser(&app, outsider).await;
        let (status, body) = page(&app, &other, &format!("/referrals/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{outsider}");
        assert!(!body.contains("转诊患者"), "nothing leaks");
    }
}

async fn web_referral_refusals_decline_redirect_and_gates(app: TestApp) {
    consortium(&app).await;
    let vd_token = app.login("vd_a1").await;
    let rid = patient(&app, &vd_token, 12).await;
    let rid_s = rid.to_string();
    let vd = browser(&app, "vd_a1").await;
    let (_, form) = page(&app, &vd, &format!("/referrals/new?resident_id={rid}")).await;
    let csrf = csrf_of(&form);

    let forged = submit(
        &app,
        &vd,
        "/referrals/new",
        &up_form("forged", &rid_s, "H1", "C50.9", ""),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let bad = submit(
        &app,
        &vd,
        "/referrals/new",
        &up_form(&csrf, &rid_s, "H1", "XYZ", ""),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad = bad.text().await.unwrap();
    assert!(bad.contains("未能提交") && bad.contains("value=\"XYZ\""));

    // Inside the consortium, a condition on no list needs no justification.
    let r = submit(
        &app,
        &vd,
        "/referrals/new",
        &up_form(&csrf, &rid_s, "H1", "C50.9", ""),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = referral_id(&r);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("提交时未触发任何转诊规则提示")
    );

    // 拒绝 needs a reason: the page comes back with the message.
    let desk = browser(&app, "desk").await;
    let (_, shown) = page(&app, &desk, &format!("/referrals/{id}")).await;
    let csrf_desk = csrf_of(&shown);
    let events = format!("/referrals/{id}/events");
    let r = submit(
        &app,
        &desk,
        &events,
        &[("csrf", &csrf_desk), ("event", "decline"), ("reason", "")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("须说明原因"));
    let r = submit(
        &app,
        &desk,
        &events,
        &[
            ("csrf", &csrf_desk),
            ("event", "decline"),
            ("reason", "本院暂无相应专科床位"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let shown = r.text().await.unwrap();
    assert!(shown.contains("已拒绝") && shown.contains("本院暂无相应专科床位"));
    // The declined referral can no longer be accepted (the state machine says so).
    let r = submit(
        &app,
        &desk,
        &events,
        &[("csrf", &csrf_desk), ("event", "accept")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("已拒绝状态的转诊不能执行"));

    // 改转: the referring side picks another institution; outside the
    // consortium it needs a justification.
    let (_, shown) = page(&app, &vd, &format!("/referrals/{id}")).await;
    assert!(shown.contains("改转"));
    let choices = between(&shown, "action=\"/referrals/", "</select>");
    assert!(
        choices.contains("T3机构") && !choices.contains("value=\"H1\""),
        "not the institution that declined"
    );
    let redirect = format!("/referrals/{id}/redirect");
    let csrf = csrf_of(&shown);
    let r = submit(
        &app,
        &vd,
        &redirect,
        &[
            ("csrf", &csrf),
            ("to_institution_code", "T3"),
            ("justification", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = r.text().await.unwrap();
    assert!(
        again.contains("转往医联体外机构须说明理由")
            && again.contains("<option value=\"T3\" selected>")
    );
    let r = submit(
        &app,
        &vd,
        &redirect,
        &[
            ("csrf", &csrf),
            ("to_institution_code", "T3"),
            ("justification", "需三级医院多学科会诊"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let new_id = referral_id(&r);
    assert_ne!(new_id, id);
    let shown = r.text().await.unwrap();
    assert!(
        shown.contains("改转自")
            && shown.contains(&format!("href=\"/referrals/{id}\""))
            && shown.contains("T3机构")
            && shown.contains("已提交")
    );
    let (_, bench) = page(&app, &vd, "/referrals?all=1").await;
    let outbox = between(&bench, "id=\"outbox\"", "</section>");
    assert!(
        outbox.contains(&format!("/referrals/{id}\""))
            && outbox.contains(&format!("/referrals/{new_id}\"")),
        "{outbox}"
    );
    let (_, open_only) = page(&app, &vd, "/referrals").await;
    assert!(
        !between(&open_only, "id=\"outbox\"", "</section>").contains(&format!("/referrals/{id}\"")),
        "a declined referral is closed"
    );

    // Gates: village doctors open no slots; other roles have no bench.
    let (status, _) = page(&app, &vd, "/slots").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, fragment) = page(&app, &vd, "/referrals/new/targets?direction=up").await;
    assert_eq!(status, StatusCode::OK);
    assert!(fragment.contains("H1机构") && !fragment.contains("<html"));
    let insurer = browser(&app, "insurer").await;
    let (_, home) = page(&app, &insurer, "/").await;
    assert!(!home.contains("双向转诊"));
    for path in ["/referrals", "/slots", "/referrals/new"] {
        let (status, _) = page(&app, &insurer, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
}
