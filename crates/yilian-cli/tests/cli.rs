//! The `yilian` binary end to end on SQLite: generate (with a year of
//! referrals, the demo's slots, the record, exams and insurance claims),
//! insurance recompute, user create, export, import (all-or-nothing and
//! --skip-invalid), backup and restore.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn yilian(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yilian"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("YILIAN_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "command failed: {err}");
    err
}

fn url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

/// The printed referral line matches the store, whose referrals read back
/// through the store's own functions with their trails and appointments, and
/// the county hospital has a week of slots from tomorrow.
fn check_referrals(db: &str, err: &str) {
    use yilian_store::referrals::{self, ReferralFilter};
    use yilian_store::{Paging, Store};
    let line = err
        .lines()
        .find(|l| l.starts_with("referrals: "))
        .unwrap_or_else(|| panic!("no referral line: {err}"));
    let number = |label: &str| -> i64 {
        let at = line
            .find(label)
            .unwrap_or_else(|| panic!("{label}: {line}"));
        line[..at]
            .rsplit([' ', '('])
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{label}: {e}: {line}"))
    };
    let (up, down, lateral) = (number(" up,"), number(" down,"), number(" lateral;"));
    assert!(up > 20 && down > 0, "{line}");
    assert!(number(" completed,") > up / 2, "{line}");
    assert!(line.contains("median response: emergency "), "{line}");
    assert!(err.contains("slots: ") && err.contains("opened at the county general hospital"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(db).await.unwrap();
        let mut c = store.read().await.unwrap();
        let all = referrals::list(
            &mut c,
            &ReferralFilter::default(),
            Paging::new(Some(500), None),
        )
        .await
        .unwrap();
        assert_eq!(all.total, up + down + lateral);
        let state = |s: &str| all.items.iter().filter(|r| r.state == s).count() as i64;
        assert_eq!(state("completed"), number(" completed,"));
        let done = all.items.iter().find(|r| r.state == "completed").unwrap();
        let trail = referrals::events(&mut c, done.id).await.unwrap();
        assert_eq!(trail.first().unwrap().event, "create");
        assert_eq!(trail.last().unwrap().event, "complete");
        let appt = referrals::get_appointment(&mut c, done.appointment_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (appt.status.as_str(), appt.referral_id),
            ("attended", Some(done.id))
        );
        // A week of slots at the county hospital, a fifth of them reserved.
        let hospital = yilian_store::registry::get_institution_by_code(&mut c, "H14059901")
            .await
            .unwrap()
            .unwrap();
        let today = chrono::Utc::now() + chrono::Duration::hours(8);
        let from = format!(
            "{}T00:00:00",
            today.date_naive() + chrono::Duration::days(1)
        );
        let to = format!(
            "{}T00:00:00",
            today.date_naive() + chrono::Duration::days(8)
        );
        let slots = referrals::list_slots(
            &mut c,
            hospital.id,
            &from,
            &to,
            Paging::new(Some(500), None),
        )
        .await
        .unwrap();
        assert!(slots.total >= 6 * 7 * 14 - 20, "{} slots", slots.total);
        let reserved = slots
            .items
            .iter()
            .filter(|s| s.reserved_for_referral == 1)
            .count();
        assert!(reserved * 5 >= slots.items.len() && reserved * 4 <= slots.items.len());
    });
}

#[test]
fn generate_export_and_import_round_trip_the_registries() {
    let dir = tempfile::tempdir().unwrap();
    let a = url(dir.path(), "a.db");
    let err = ok(&yilian(
        &a,
        &["generate", "--residents", "1500", "--seed", "5"],
    ));
    assert!(err.contains("residents: 1500"), "{err}");
    check_referrals(&a, &err);
    check_records(&a, &err);
    check_claims(&a, &err);
    check_townships(&a);
    assert!(
        !yilian(&a, &["generate", "--residents", "10"])
            .status
            .success(),
        "generate refuses a non-empty store"
    );
    for what in ["regions", "institutions", "practitioners", "residents"] {
        let out = dir.path().join(format!("{what}.csv"));
        ok(&yilian(
            &a,
            &["export", what, "--out", out.to_str().unwrap()],
        ));
    }
    assert_eq!(
        lines(&dir.path().join("residents.csv")),
        1501,
        "header plus every resident"
    );
    // Into a fresh store, in dependency order.
    let b = url(dir.path(), "b.db");
    for what in ["regions", "institutions", "practitioners", "residents"] {
        let file = dir.path().join(format!("{what}.csv"));
        let err = ok(&yilian(&b, &["import", what, file.to_str().unwrap()]));
        assert!(
            err.contains(&format!("imported {} rows", lines(&file) - 1)),
            "{what}: {err}"
        );
    }
    // The generator builds the residents' plain indexes after its load:
    // the generated store has every index of a store that never lost one.
    assert_eq!(indexes(&a), indexes(&b));
    let again = dir.path().join("institutions-b.csv");
    ok(&yilian(
        &b,
        &["export", "institutions", "--out", again.to_str().unwrap()],
    ));
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(dir.path().join("institutions.csv")).unwrap()
    );
}

#[test]
fn a_file_with_bad_rows_changes_nothing_unless_skip_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path(), "c.db");
    let regions = dir.path().join("regions.csv");
    std::fs::write(&regions, "code,name,lon,lat,population\n140000,山西省,,,\n140500,晋城市,,,\n140599,青禾县,,,\n140599101,桃源镇,112.8,35.6,12000\n1405991012,坏代码,,,\n140599101201,东庄村,112.8,35.6,800\n140599109201,无上级村,,,\n").unwrap();
    let o = yilian(&db, &["import", "regions", regions.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 6:") && err.contains("invalid_region_code"),
        "{err}"
    );
    assert!(
        err.contains("line 8:") && err.contains("unknown_region"),
        "{err}"
    );
    let out = dir.path().join("out.csv");
    ok(&yilian(
        &db,
        &["export", "regions", "--out", out.to_str().unwrap()],
    ));
    assert!(lines(&out) <= 1, "nothing was imported (at most a header)");
    let err = ok(&yilian(
        &db,
        &[
            "import",
            "regions",
            regions.to_str().unwrap(),
            "--skip-invalid",
        ],
    ));
    assert!(err.contains("imported 5 rows, skipped 2 bad rows"), "{err}");
    // Residents: a bad identity number is reported by line.
    let residents = dir.path().join("residents.csv");
    std::fs::write(&residents, "id_number,name,sex,birth_date,phone,region_code,address,household_code,insurance,tags\n140599195803091234,李建国,,,14500001234,140599101201,,,,\n").unwrap();
    let o = yilian(&db, &["import", "residents", residents.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("line 2: invalid_id_number"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn user_create_backup_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path(), "d.db");
    ok(&yilian(&db, &["migrate"]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_yilian"))
        .args([
            "--db",
            &db,
            "user",
            "create",
            "--username",
            "root1",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-long-password\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let no_scope = yilian(
        &db,
        &[
            "user",
            "create",
            "--username",
            "vd1",
            "--role",
            "village_doctor",
            "--password-stdin",
        ],
    );
    assert!(!no_scope.status.success());
    let backup = dir.path().join("backup.db");
    ok(&yilian(&db, &["backup", backup.to_str().unwrap()]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_yilian"))
        .args([
            "--db",
            &db,
            "user",
            "create",
            "--username",
            "root2",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"another-password\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    ok(&yilian(&db, &["restore", backup.to_str().unwrap()]));
    // After restore root2 is gone: creating it again succeeds.
    let mut child = Command::new(env!("CARGO_BIN_EXE_yilian"))
        .args([
            "--db",
            &db,
            "user",
            "create",
            "--username",
            "root2",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"another-password\n")
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "root2 did not survive the restore"
    );
}

/// The generated record follows the generated care: one follow-up encounter
/// per follow-up, a lab result per measured HbA1c and glucose (HR-marked, from
/// a lab in good standing), and a visit and diagnosis per completed referral.
fn check_records(db: &str, err: &str) {
    use yilian_store::Store;
    use yilian_store::sql::Sql;
    let line = err
        .lines()
        .find(|l| l.starts_with("records: "))
        .unwrap_or_else(|| panic!("no records line: {err}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(db).await.unwrap();
        let mut c = store.read().await.unwrap();
        let n = |sql: &'static str| Sql::new(sql);
        let count = async |c: &mut yilian_store::Conn, sql: &'static str| n(sql).scalar_i64(c).await.unwrap();
        let entries = count(&mut c, "SELECT COUNT(*) FROM record_entries WHERE source IN ('generator', 'referral')").await;
        assert!(line.contains(&format!("{entries} timeline entries")), "{line}");
        let followups = count(&mut c, "SELECT COUNT(*) FROM followups").await;
        let encounters = count(&mut c, "SELECT COUNT(*) FROM record_entries WHERE kind = 'encounter' AND encounter_type = 'follow_up'").await;
        assert!(encounters > 0 && encounters <= followups && encounters * 10 >= followups * 9, "{encounters} of {followups}");
        let measured = count(&mut c, "SELECT COUNT(*) FROM followups WHERE hba1c IS NOT NULL").await;
        let hba1c = count(&mut c, "SELECT COUNT(*) FROM record_entries WHERE code = 'hba1c' AND hr_mark = 1").await;
        assert!(measured > 0 && hba1c > 0 && hba1c <= measured, "{hba1c} of {measured}");
        let completed = count(&mut c, "SELECT COUNT(*) FROM referrals WHERE state = 'completed' AND appointment_id IS NOT NULL").await;
        let visits = count(&mut c, "SELECT COUNT(*) FROM record_entries WHERE source = 'referral' AND kind = 'diagnosis'").await;
        assert_eq!(visits, completed);
        let good = count(&mut c, "SELECT COUNT(*) FROM lab_quality").await;
        assert!(good > 0 && line.contains(&format!("{good} labs in good standing")), "{line}");
        check_exams(&mut c, err).await;
    });
}

/// The year's remote reads and recognition orders agree with the care they
/// were derived from and with the line the generator printed.
async fn check_exams(c: &mut yilian_store::Conn, err: &str) {
    use yilian_store::sql::Sql;
    let line = err
        .lines()
        .find(|l| l.starts_with("exams: "))
        .unwrap_or_else(|| panic!("no exams line: {err}"));
    let count = async |c: &mut yilian_store::Conn, sql: &'static str| {
        Sql::new(sql).scalar_i64(c).await.unwrap()
    };
    let reads = count(c, "SELECT COUNT(*) FROM remote_requests").await;
    assert!(
        reads > 0 && line.contains(&format!("exams: {reads} remote reads")),
        "{line}"
    );
    // One ECG per resident followed up for hypertension or diabetes (whose
    // centre has a county-hospital lead): never more.
    let ecg = count(c, "SELECT COUNT(*) FROM remote_requests WHERE kind = 'ecg'").await;
    let managed = count(c, "SELECT COUNT(DISTINCT f.resident_id) FROM followups f JOIN enrolments e ON e.id = f.enrolment_id \
        WHERE e.program IN ('hypertension', 'diabetes_t2')").await;
    assert!(
        ecg > 0 && ecg <= managed && ecg * 10 >= managed * 9,
        "{ecg} ECGs for {managed} managed"
    );
    // Read "乡检查、县诊断": from a township/community centre to a county general hospital.
    let misrouted = count(c, "SELECT COUNT(*) FROM remote_requests q JOIN institutions a ON a.id = q.from_institution_id \
        JOIN institutions b ON b.id = q.to_institution_id WHERE a.kind NOT IN ('township_health_center', 'community_health_center') \
        OR b.kind <> 'county_general_hospital'").await;
    assert_eq!(misrouted, 0);
    // Every signed read's report is in the record, at the reader's hospital, with the HR mark.
    let signed = count(
        c,
        "SELECT COUNT(*) FROM remote_requests WHERE state = 'signed'",
    )
    .await;
    let filed = count(c, "SELECT COUNT(*) FROM remote_requests q JOIN record_entries e ON e.id = q.record_entry_id \
        WHERE q.state = 'signed' AND e.institution_id = q.to_institution_id AND e.kind = 'exam' AND e.hr_mark = 1").await;
    assert_eq!(filed, signed);
    let unordered = count(c, "SELECT COUNT(*) FROM remote_requests WHERE claimed_at < requested_at OR reported_at < claimed_at OR signed_at < reported_at").await;
    assert_eq!(unordered, 0);
    // Orders: every recognition used a result of the resident, taken before the order.
    let orders = count(c, "SELECT COUNT(*) FROM test_orders").await;
    assert!(
        orders > 0 && line.contains(&format!("{orders} orders at referral visits")),
        "{line}"
    );
    let bad = count(c, "SELECT COUNT(*) FROM test_orders o JOIN record_entries e ON e.id = o.recognized_entry_id \
        WHERE e.resident_id <> o.resident_id OR e.occurred_at > o.ordered_at OR e.code <> o.item_code").await;
    assert_eq!(bad, 0);
    let saved = count(
        c,
        "SELECT COALESCE(SUM(saved_fen), 0) FROM test_orders WHERE outcome = 'recognized'",
    )
    .await;
    assert!(
        line.contains(&format!(
            "(saved {} yuan)",
            yilian_domain::money::yuan(saved)
        )),
        "{line}"
    );
    // Each repeat has its reason in the chart.
    let repeats = count(
        c,
        "SELECT COUNT(*) FROM test_orders WHERE outcome = 'repeated' AND repeat_reason IS NOT NULL",
    )
    .await;
    let notes = count(
        c,
        "SELECT COUNT(*) FROM record_entries WHERE source = 'recognition'",
    )
    .await;
    assert_eq!(repeats, notes);
}

/// Rows of a SQLite store a statement returns.
fn rows<T>(db: &str, sql: &str) -> Vec<T>
where
    T: for<'r> yilian_store::sqlx::FromRow<'r, yilian_store::sqlx::any::AnyRow> + Send + Unpin,
{
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = yilian_store::Store::open(db).await.unwrap();
        let mut c = store.read().await.unwrap();
        yilian_store::sql::Sql::new(sql)
            .fetch_all(&mut c)
            .await
            .unwrap()
    })
}

/// Every index of a SQLite store: (name, definition).
fn indexes(db: &str) -> Vec<(String, Option<String>)> {
    rows(
        db,
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name",
    )
}

/// Every generated contract, chronic enrolment and remote request carries
/// its resident's township (kept by the database, migration 0013), and
/// there are rows of each to check.
fn check_townships(db: &str) {
    for table in ["contracts", "enrolments", "remote_requests"] {
        let counts: Vec<(i64, i64)> = rows(
            db,
            &format!(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN x.township IS substr(r.region_code, 1, 9) THEN 0 ELSE 1 END), 0) \
                 FROM {table} x JOIN residents r ON r.id = x.resident_id"
            ),
        );
        let (n, wrong) = counts[0];
        assert!(n > 0, "{table}: none generated");
        assert_eq!(
            wrong, 0,
            "{table}: {wrong} of {n} rows with another township than their resident's"
        );
    }
}

/// The year's claims agree with the line the generator printed, add up,
/// are booked in the fund ledger once valuated, and reproduce exactly when
/// recomputed from their stored policy versions (also through
/// `yilian insurance recompute`).
fn check_claims(db: &str, err: &str) {
    use yilian_store::Store;
    use yilian_store::sql::Sql;
    let line = err
        .lines()
        .find(|l| l.starts_with("claims: "))
        .unwrap_or_else(|| panic!("no claims line: {err}"));
    let number = |label: &str| -> String {
        let at = line
            .find(label)
            .unwrap_or_else(|| panic!("{label}: {line}"));
        line[..at].rsplit([' ', '(']).next().unwrap().to_string()
    };
    let count = |label: &str| -> i64 {
        number(label)
            .parse()
            .unwrap_or_else(|e| panic!("{label}: {e}: {line}"))
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let years: Vec<i64> = rt.block_on(async {
        let store = Store::open(db).await.unwrap();
        let mut c = store.read().await.unwrap();
        let n = async |c: &mut yilian_store::Conn, sql: &str| Sql::new(sql).scalar_i64(c).await.unwrap();
        let claims = n(&mut c, "SELECT COUNT(*) FROM claims").await;
        assert!(claims > 100, "{line}");
        assert_eq!(count(" adjudicated ("), claims, "{line}");
        let valuated = n(&mut c, "SELECT COUNT(*) FROM claims WHERE state = 'valuated'").await;
        assert!(valuated > 0 && valuated < claims, "{line}");
        assert_eq!(count(" valuated)"), valuated, "{line}");
        let fund = n(&mut c, "SELECT CAST(SUM(fund_fen) AS BIGINT) FROM claims").await;
        let resident = n(&mut c, "SELECT CAST(SUM(resident_fen) AS BIGINT) FROM claims").await;
        assert_eq!(number(" yuan, residents"), yilian_domain::money::yuan(fund), "{line}");
        assert_eq!(number(" yuan;"), yilian_domain::money::yuan(resident), "{line}");
        let penalised = n(&mut c, "SELECT COUNT(*) FROM claims WHERE rules LIKE '%\"missing_referral_penalty\"%'").await;
        assert_eq!(count(" with the missing-referral penalty"), penalised, "{line}");
        assert!(penalised > 0, "{line}");
        let outside = n(&mut c, "SELECT COUNT(*) FROM claims WHERE in_county = 0").await;
        assert_eq!(count(" outside the county"), outside, "{line}");
        assert!(outside > 0, "{line}");
        assert_eq!(count(" skipped (no policy in force)"), 0, "{line}");
        // Every claim adds up and is the generator's.
        let unbalanced = n(&mut c, "SELECT COUNT(*) FROM claims WHERE fund_fen + resident_fen <> total_fen \
            OR fund_fen < 0 OR resident_fen < 0 OR source <> 'generator'").await;
        assert_eq!(unbalanced, 0);
        // Each valuated claim has exactly one ledger entry, of its fund share;
        // no other claim has one.
        let booked = n(&mut c, "SELECT COUNT(*) FROM claims c WHERE c.state = 'valuated' AND 1 = (SELECT COUNT(*) \
            FROM fund_ledger l WHERE l.kind = 'claim' AND l.source_id = c.id AND l.amount_fen = c.fund_fen \
            AND l.consortium_id = c.consortium_id)").await;
        assert_eq!(booked, valuated);
        let entries = n(&mut c, "SELECT COUNT(*) FROM fund_ledger WHERE kind = 'claim'").await;
        assert_eq!(entries, valuated);
        // Follow-up encounters are billed at the primary institution, one claim each.
        let followups = n(&mut c, "SELECT COUNT(*) FROM claims c JOIN record_entries e ON e.id = c.encounter_entry_id \
            WHERE e.encounter_type = 'follow_up' AND c.setting = 'outpatient' AND c.institution_id = e.institution_id").await;
        assert!(followups > claims / 2, "{followups} of {claims}");
        // A year to date never exceeds the sum of the resident's earlier claims.
        let ytd_wrong = n(&mut c, "SELECT COUNT(*) FROM claims c WHERE c.ytd_fund_fen <> (SELECT COALESCE(SUM(p.fund_fen), 0) \
            FROM claims p WHERE p.resident_id = c.resident_id AND p.scheme = c.scheme AND p.setting = c.setting \
            AND p.id < c.id AND substr(p.service_date, 1, 4) = substr(c.service_date, 1, 4))").await;
        assert_eq!(ytd_wrong, 0, "year-to-date payments must be the earlier claims' fund shares");
        let years: Vec<(String,)> = Sql::new("SELECT DISTINCT substr(service_date, 1, 4) FROM claims ORDER BY 1")
            .fetch_all(&mut c)
            .await
            .unwrap();
        let years: Vec<i64> = years.into_iter().map(|(y,)| y.parse().unwrap()).collect();
        let mut total = 0;
        for y in &years {
            let r = yilian_server::insurance::recompute_year(&store, *y as i32).await.unwrap();
            assert!(r.differing.is_empty(), "{y}: {:?}", r.differing);
            assert_eq!(r.identical, r.claims);
            total += r.claims as i64;
        }
        assert_eq!(total, claims);
        years
    });
    let year = years.last().unwrap().to_string();
    let o = yilian(db, &["insurance", "recompute", "--year", &year]);
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(" identical, 0 differing;") && out.contains("claims/s"),
        "{out}"
    );
}

#[test]
fn surveillance_is_generated_run_and_evaluated_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path(), "s.db");
    let err = ok(&yilian(
        &db,
        &["generate", "--residents", "1200", "--seed", "7"],
    ));
    let line = err
        .lines()
        .find(|l| l.starts_with("surveillance: "))
        .unwrap_or_else(|| panic!("no surveillance line: {err}"));
    assert!(
        line.contains("daily counts") && line.contains("injected outbreaks"),
        "{line}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (counts, reports) = rt.block_on(async {
        let store = yilian_store::Store::open(&db).await.unwrap();
        let mut c = store.read().await.unwrap();
        let n = |sql: &'static str| yilian_store::sql::Sql::new(sql);
        (
            n("SELECT COUNT(*) FROM surveillance_counts WHERE channel <> 'case_report'")
                .scalar_i64(&mut c)
                .await
                .unwrap(),
            n("SELECT COUNT(*) FROM case_reports")
                .scalar_i64(&mut c)
                .await
                .unwrap(),
        )
    });
    assert!(
        line.starts_with(&format!(
            "surveillance: {counts} daily counts and {reports} case reports"
        )),
        "{line}"
    );
    // The run for today: a summary line; a second run raises nothing new.
    let first = ok(&yilian(&db, &["surveil", "run"]));
    let again = String::from_utf8(yilian(&db, &["surveil", "run"]).stdout).unwrap();
    assert!(again.contains(" 0 new signals"), "{first} / {again}");
    // The evaluation prints both tables with every algorithm.
    let out = yilian(
        &db,
        &[
            "surveil",
            "evaluate",
            "--residents",
            "3000",
            "--days",
            "200",
        ],
    );
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "County level, notifiable diseases",
        "EARS C1",
        "EARS C3",
        "移动百分位数 P65",
        "CUSUM",
    ] {
        assert!(table.contains(needle), "{needle} missing: {table}");
    }
}

/// 监测评估 from the command line: the generated county's plan indicators
/// (both shipped plans compute every row), a plan file with an unknown
/// indicator is refused naming the file, line and field, and the scorecard
/// ranks the consortium.
#[test]
fn indicators_and_evaluation_run_on_the_generated_county() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(dir.path(), "m.db");
    let err = ok(&yilian(
        &db,
        &[
            "generate",
            "--residents",
            "2500",
            "--seed",
            "3",
            "--skip",
            "claims,surveillance",
        ],
    ));
    assert!(err.contains("visits: "), "{err}");
    assert!(err.contains("geography: "), "{err}");
    assert!(!err.contains("claims: "), "claims were skipped: {err}");
    let plans = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/plans");
    for file in ["seed002-a.toml", "seed002-b.toml"] {
        let path = plans.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let rows = text.lines().filter(|l| l.trim() == "[[indicator]]").count();
        let out = yilian(
            &db,
            &[
                "indicators",
                "--plan",
                path.to_str().unwrap(),
                "--format",
                "csv",
            ],
        );
        let csv = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{csv}");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), rows + 1, "a header and every indicator: {csv}");
        let le = lines
            .iter()
            .find(|l| l.starts_with("life_expectancy,"))
            .expect("life expectancy row");
        let actual: f64 = le
            .split(',')
            .nth(9)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("life expectancy computes: {le}"));
        assert!((70.0..90.0).contains(&actual), "life expectancy {actual}");
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"坏规划\"\nsource = \"test\"\n\n[[indicator]]\ncode = \"beds_per_acre\"\nname = \"x\"\nunit = \"per_1000\"\nbaseline_year = 2025\nbaseline = 1.0\ntarget_year = 2030\ntarget = 2.0\ndirection = \">=\"\nnature = \"expected\"\n",
    )
    .unwrap();
    let out = yilian(&db, &["indicators", "--plan", bad.to_str().unwrap()]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        err.contains("bad.toml") && err.contains("line 5") && err.contains("code"),
        "names the file, line and field: {err}"
    );
    let out = yilian(&db, &["evaluate", "--year", "2026", "--format", "csv"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{csv}");
    let consortium = csv
        .lines()
        .find(|l| l.starts_with("consortium,"))
        .expect("a consortium is ranked");
    let total: f64 = consortium.rsplit(',').next().unwrap().parse().unwrap();
    assert!((0.0..=100.0).contains(&total), "{consortium}");
    assert!(consortium.contains(",1,"), "ranked first: {consortium}");
}
