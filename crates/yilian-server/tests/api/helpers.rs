//! `spawn_app()`: the server on port 0 over a fresh store (SQLite file, or a
//! fresh PostgreSQL schema when `YILIAN_TEST_PG` is set), with a small
//! county and one login per role.

use chrono::NaiveDate;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use yilian_domain::id_number::IdNumber;
use yilian_domain::registry::{Grade, InstitutionKind, Ownership};
use yilian_server::service::{UserInput, create_user};
use yilian_server::{AppState, Settings};
use yilian_store::registry::{self, InstitutionData, RegionData};
use yilian_store::testkit::TestDb;
use yilian_store::{Backend, CodeList, CountMap};

pub const PASSWORD: &str = "test-password-1";

/// Runs a test body on SQLite, and on PostgreSQL when configured.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { if let Some(app) = $crate::helpers::spawn_app(yilian_store::Backend::Sqlite).await { super::$name(app).await } } )+ }
        mod postgres { $( #[tokio::test] async fn $name() { if let Some(app) = $crate::helpers::spawn_app(yilian_store::Backend::Postgres).await { super::$name(app).await } } )+ }
    };
}

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub db: TestDb,
}

/// Region codes of the fixture county.
pub const COUNTY: &str = "140599";
pub const TOWN_A: &str = "140599101";
pub const VILLAGE_A1: &str = "140599101201";
pub const VILLAGE_A2: &str = "140599101202";
pub const TOWN_B: &str = "140599102";
pub const VILLAGE_B1: &str = "140599102201";

pub fn id_number(birth: (i32, u32, u32), seq: u16) -> String {
    IdNumber::build(
        COUNTY,
        NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2).unwrap(),
        seq,
    )
    .unwrap()
    .to_string()
}

async fn seed(db: &TestDb) {
    let s = &db.store;
    let mut tx = s.write().await.unwrap();
    for (code, name, level, parent) in [
        ("140000", "山西省", "province", None),
        ("140500", "晋城市", "city", Some("140000")),
        (COUNTY, "青禾县", "county", Some("140500")),
        ("140598", "邻县", "county", Some("140500")),
        (TOWN_A, "桃源镇", "township", Some(COUNTY)),
        (VILLAGE_A1, "东庄村", "village", Some(TOWN_A)),
        (VILLAGE_A2, "西庄村", "village", Some(TOWN_A)),
        (TOWN_B, "柳溪乡", "township", Some(COUNTY)),
        (VILLAGE_B1, "南坡村", "village", Some(TOWN_B)),
    ] {
        let d = RegionData {
            code: code.into(),
            name: name.into(),
            level: level.into(),
            parent_code: parent.map(Into::into),
            lon: None,
            lat: None,
            population: None,
        };
        registry::insert_region(&mut tx, &d).await.unwrap();
    }
    for (code, kind, region, grade) in [
        (
            "H1",
            InstitutionKind::CountyGeneralHospital,
            COUNTY,
            Some(Grade::Level2A),
        ),
        (
            "T3",
            InstitutionKind::TertiaryHospital,
            "140500",
            Some(Grade::Level3A),
        ),
        ("WA", InstitutionKind::TownshipHealthCenter, TOWN_A, None),
        ("WB", InstitutionKind::TownshipHealthCenter, TOWN_B, None),
        ("VA1", InstitutionKind::VillageClinic, VILLAGE_A1, None),
        ("VA2", InstitutionKind::VillageClinic, VILLAGE_A2, None),
        ("VB1", InstitutionKind::VillageClinic, VILLAGE_B1, None),
    ] {
        let d = InstitutionData {
            code: code.into(),
            name: format!("{code}机构"),
            kind,
            grade,
            ownership: Ownership::Public,
            region_code: region.into(),
            address: String::new(),
            lon: None,
            lat: None,
            beds: CountMap::default(),
            staff: CountMap::default(),
            services: CodeList::default(),
        };
        registry::insert_institution(&mut tx, &d).await.unwrap();
    }
    tx.commit().await.unwrap();
    for (username, role, scope) in [
        ("admin", "admin", None),
        ("hc_main", "health_commission", Some(COUNTY)),
        ("hc_other", "health_commission", Some("140598")),
        ("insurer", "insurer", Some(COUNTY)),
        ("cdc", "cdc", Some(COUNTY)),
        ("desk", "referral_desk", Some("H1")),
        ("specialist", "specialist", Some("H1")),
        ("clinician_a", "primary_clinician", Some("WA")),
        ("clinician_b", "primary_clinician", Some("WB")),
        ("vd_a1", "village_doctor", Some("VA1")),
        ("vd_a2", "village_doctor", Some("VA2")),
    ] {
        let u = UserInput {
            username: username.into(),
            password: PASSWORD.into(),
            role: role.into(),
            scope: scope.map(Into::into),
        };
        create_user(&db.store, &u).await.unwrap();
    }
}

/// Starts the app on 127.0.0.1:0; `None` when the backend is not configured.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Settings {
            login_per_minute: 10,
            ..Settings::default()
        },
    )
    .await
}

/// `spawn_app` with explicit settings (e.g. small contract caps).
pub async fn spawn_app_with(backend: Backend, settings: Settings) -> Option<TestApp> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("YILIAN_LOG").unwrap_or_else(|_| "error".into()))
        .with_test_writer()
        .try_init();
    let db = TestDb::new(backend).await.unwrap()?;
    seed(&db).await;
    yilian_server::prepare(&db.store).await.unwrap();
    let state = AppState::new(db.store.clone(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(yilian_server::serve(state, listener));
    let client = Client::builder().cookie_store(true).build().unwrap();
    Some(TestApp { base, client, db })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn login(&self, username: &str) -> String {
        let r = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login {username}");
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        Client::new()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        Client::new()
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, token: &str, path: &str, body: &Value) -> Response {
        Client::new()
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers a resident as `as_user`; returns the response body (201).
    pub async fn register(&self, token: &str, body: Value) -> Value {
        let r = self.post(token, "/api/v1/residents", &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
        r.json().await.unwrap()
    }

    pub async fn count_residents(&self) -> i64 {
        let mut c = self.db.store.read().await.unwrap();
        yilian_store::residents::count(&mut c).await.unwrap()
    }
}

/// Asserts an API error: status, stable code, and both messages present.
pub async fn assert_error(r: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message_zh"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["message_en"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

pub fn resident_body(
    region: &str,
    birth: (i32, u32, u32),
    seq: u16,
    name: &str,
    phone: &str,
) -> Value {
    json!({"id_number": id_number(birth, seq), "name": name, "phone": phone, "region_code": region})
}

// ---------------------------------------------------------------- web pages

/// The CSRF token of the first form on a page.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the page has a form with a csrf field")
        .to_string()
}

/// Logs `client` in through the web form (its cookie store keeps the session).
pub async fn web_login(app: &TestApp, client: &Client, username: &str) {
    let page = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf", &csrf_of(&page)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "web login {username}");
}

/// A fresh browser (its own cookie store), logged in through the web form.
pub async fn browser(app: &TestApp, username: &str) -> Client {
    let client = Client::builder().cookie_store(true).build().unwrap();
    web_login(app, &client, username).await;
    client
}

/// GETs a page: its status and HTML.
pub async fn page(app: &TestApp, client: &Client, path: &str) -> (StatusCode, String) {
    let r = client.get(app.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Posts a form; redirects are followed, so the answer is the page shown next.
pub async fn submit(
    app: &TestApp,
    client: &Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// The part of a page between two markers.
pub fn between<'a>(page: &'a str, from: &str, to: &str) -> &'a str {
    let start = page.find(from).unwrap_or_else(|| panic!("{from} on page"));
    let rest = &page[start..];
    rest.find(to).map_or(rest, |end| &rest[..end])
}

/// A county consortium CN1 led by H1 with `members` (institution codes);
/// returns its id.
pub async fn county_consortium(app: &TestApp, members: &[&str]) -> i64 {
    let admin = app.login("admin").await;
    let c: serde_json::Value = app
        .post(&admin, "/api/v1/consortia", &serde_json::json!({"code": "CN1", "name": "青禾县医共体", "kind": "county_consortium", "lead_institution_code": "H1", "region_code": COUNTY}))
        .await
        .json()
        .await
        .unwrap();
    for m in members {
        app.post(
            &admin,
            &format!("/api/v1/consortia/{}/members", c["id"]),
            &serde_json::json!({"institution_code": m}),
        )
        .await;
    }
    c["id"].as_i64().unwrap()
}
