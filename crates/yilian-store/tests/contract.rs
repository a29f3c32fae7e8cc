//! The store contract: every behaviour, on both backends. Each test runs on
//! SQLite always and on PostgreSQL when `YILIAN_TEST_PG` is set.

use chrono::NaiveDate;
use yilian_domain::access::ResidentScope;
use yilian_domain::id_number::IdNumber;
use yilian_domain::registry::{ConsortiumKind, InstitutionKind, Ownership, Profession, TeamRole};
use yilian_domain::resident::{ResidentInput, ValidResident};
use yilian_store::registry::{self, *};
use yilian_store::residents::{self, ResidentFilter};
use yilian_store::testkit::TestDb;
use yilian_store::{
    Backend, CodeList, CountMap, Paging, Store, StoreError, audit, backup, bulk, mpi, users,
};

macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { if let Some(db) = yilian_store::testkit::TestDb::new(yilian_store::Backend::Sqlite).await.unwrap() { super::$name(db).await } } )+ }
        mod postgres { $( #[tokio::test] async fn $name() { if let Some(db) = yilian_store::testkit::TestDb::new(yilian_store::Backend::Postgres).await.unwrap() { super::$name(db).await } } )+ }
    };
}

contract!(
    regions_create_read_update_with_versions,
    institutions_filters_and_unique_codes,
    consortia_members_and_overlap,
    practitioners_with_several_sites,
    teams_with_members,
    residents_get_a_card_once_and_ids_are_unique,
    resident_search_by_every_key_and_scope,
    resident_update_is_optimistic,
    merge_and_unmerge_keep_both_residents,
    candidates_are_stored_once,
    sessions_expire_and_audit_appends,
    access_log_group_commit_keeps_one_chain,
    access_log_batch_with_a_failing_entry_fails_only_that_read,
    bulk_insert_and_ground_truth,
    bulk_referrals_read_back,
    backup_and_restore_round_trip,
    recognition_candidates_treatments_and_standing,
    recognition_orders_and_report,
    encounter_rollup_counts_every_write,
    chronic_facts_take_the_periods_last_followup,
    township_on_rows_follows_the_resident,
    active_contracts_carry_packages_and_deliveries,
    plain_indexes_come_off_for_a_load_and_go_back_after,
);

const TODAY: (i32, u32, u32) = (2026, 11, 22);

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(TODAY.0, TODAY.1, TODAY.2).unwrap()
}

async fn seed_regions(s: &Store) {
    let mut tx = s.write().await.unwrap();
    for (code, name, level, parent) in [
        ("140000", "山西省", "province", None),
        ("140500", "晋城市", "city", Some("140000")),
        ("140599", "青禾县", "county", Some("140500")),
        ("140599101", "桃源镇", "township", Some("140599")),
        ("140599101201", "东庄村", "village", Some("140599101")),
        ("140599101202", "西庄村", "village", Some("140599101")),
        ("140599102", "柳溪乡", "township", Some("140599")),
        ("140599102201", "南坡村", "village", Some("140599102")),
    ] {
        registry::insert_region(
            &mut tx,
            &RegionData {
                code: code.into(),
                name: name.into(),
                level: level.into(),
                parent_code: parent.map(Into::into),
                lon: Some(112.8),
                lat: Some(35.6),
                population: None,
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

fn institution(
    code: &str,
    kind: InstitutionKind,
    region: &str,
    services: &[&str],
) -> InstitutionData {
    InstitutionData {
        code: code.into(),
        name: format!("机构{code}"),
        kind,
        grade: None,
        ownership: Ownership::Public,
        region_code: region.into(),
        address: String::new(),
        lon: Some(112.8),
        lat: Some(35.6),
        beds: CountMap([("general".to_string(), 30)].into_iter().collect()),
        staff: CountMap::default(),
        services: CodeList(services.iter().map(|s| s.to_string()).collect()),
    }
}

async fn seed_institutions(s: &Store) -> (i64, i64, i64) {
    seed_regions(s).await;
    let mut tx = s.write().await.unwrap();
    let county = registry::insert_institution(
        &mut tx,
        &institution(
            "H001",
            InstitutionKind::CountyGeneralHospital,
            "140599",
            &["fever_clinic", "chest_pain_center"],
        ),
    )
    .await
    .unwrap();
    let town = registry::insert_institution(
        &mut tx,
        &institution(
            "T101",
            InstitutionKind::TownshipHealthCenter,
            "140599101",
            &["tcm_hall"],
        ),
    )
    .await
    .unwrap();
    let village = registry::insert_institution(
        &mut tx,
        &institution("V201", InstitutionKind::VillageClinic, "140599101201", &[]),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (county.id, town.id, village.id)
}

fn resident(
    region: &str,
    birth: (i32, u32, u32),
    seq: u16,
    name: &str,
    phone: &str,
) -> ValidResident {
    let id = IdNumber::build(
        "140599",
        NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2).unwrap(),
        seq,
    )
    .unwrap();
    ResidentInput {
        id_number: id.to_string(),
        name: name.into(),
        phone: phone.into(),
        region_code: region.into(),
        ..Default::default()
    }
    .validate(today())
    .unwrap()
}

async fn regions_create_read_update_with_versions(db: TestDb) {
    let s = &db.store;
    seed_regions(s).await;
    let mut c = s.read().await.unwrap();
    let r = registry::get_region(&mut c, "140599101")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.name.as_str(), r.level.as_str(), r.version),
        ("桃源镇", "township", 1)
    );
    let data = RegionData {
        code: r.code.clone(),
        name: "桃源镇（新）".into(),
        level: r.level.clone(),
        parent_code: r.parent_code.clone(),
        lon: r.lon,
        lat: r.lat,
        population: Some(12000),
    };
    let u = registry::update_region(&mut c, &data, 1).await.unwrap();
    assert_eq!((u.version, u.population), (2, Some(12000)));
    assert!(matches!(
        registry::update_region(&mut c, &data, 1).await,
        Err(StoreError::VersionConflict { .. })
    ));
    let page = registry::list_regions(
        &mut c,
        &RegionFilter {
            parent_code: Some("140599101".into()),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(page.total, 2);
    let within = registry::list_regions(
        &mut c,
        &RegionFilter {
            within: Some("140599102".into()),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        within
            .items
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["140599102", "140599102201"]
    );
    let dup = RegionData {
        code: "140599".into(),
        name: "x".into(),
        level: "county".into(),
        parent_code: None,
        lon: None,
        lat: None,
        population: None,
    };
    assert!(
        matches!(registry::insert_region(&mut c, &dup).await, Err(StoreError::Unique(t)) if t == "regions.code")
    );
}

async fn institutions_filters_and_unique_codes(db: TestDb) {
    let s = &db.store;
    let (county, town, _) = seed_institutions(s).await;
    let mut c = s.read().await.unwrap();
    let i = registry::get_institution(&mut c, county)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.beds.0.get("general"), Some(&30));
    assert_eq!(i.services.0, vec!["chest_pain_center", "fever_clinic"]);
    let fever = registry::list_institutions(
        &mut c,
        &InstitutionFilter {
            service: Some("fever_clinic".into()),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        fever.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![county]
    );
    let township = registry::list_institutions(
        &mut c,
        &InstitutionFilter {
            within: Some("140599101".into()),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(township.total, 2);
    let kind = registry::list_institutions(
        &mut c,
        &InstitutionFilter {
            kind: Some("village_clinic".into()),
            ..Default::default()
        },
        Paging::new(Some(1), Some(0)),
    )
    .await
    .unwrap();
    assert_eq!((kind.total, kind.items.len()), (1, 1));
    let err = registry::insert_institution(
        &mut c,
        &institution(
            "T101",
            InstitutionKind::TownshipHealthCenter,
            "140599101",
            &[],
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Unique(ref t) if t == "institutions.code"),
        "{err:?}"
    );
    let mut d = institution(
        "T101",
        InstitutionKind::TownshipHealthCenter,
        "140599101",
        &["fever_clinic"],
    );
    d.name = "桃源镇卫生院".into();
    let u = registry::update_institution(&mut c, town, 1, &d)
        .await
        .unwrap();
    assert_eq!((u.version, u.name.as_str()), (2, "桃源镇卫生院"));
    assert!(matches!(
        registry::update_institution(&mut c, town, 1, &d).await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert!(matches!(
        registry::update_institution(&mut c, 9999, 1, &d).await,
        Err(StoreError::NotFound)
    ));
    // A null coordinate followed by a real one on the same connection (the
    // Any driver once typed null reals as FLOAT4 on PostgreSQL).
    let mut no_location = institution("V202", InstitutionKind::VillageClinic, "140599101202", &[]);
    no_location.lon = None;
    no_location.lat = None;
    registry::insert_institution(&mut c, &no_location)
        .await
        .unwrap();
    let located = registry::insert_institution(
        &mut c,
        &institution("V203", InstitutionKind::VillageClinic, "140599101202", &[]),
    )
    .await
    .unwrap();
    assert_eq!(located.lon, Some(112.8));
    let bad_region = institution("X1", InstitutionKind::VillageClinic, "140599999999", &[]);
    assert!(matches!(
        registry::insert_institution(&mut c, &bad_region).await,
        Err(StoreError::ForeignKey)
    ));
}

async fn consortia_members_and_overlap(db: TestDb) {
    let s = &db.store;
    let (county, town, village) = seed_institutions(s).await;
    let mut tx = s.write().await.unwrap();
    let data = ConsortiumData {
        code: "C1".into(),
        name: "青禾县医共体".into(),
        kind: ConsortiumKind::CountyConsortium,
        lead_institution_id: county,
        region_code: "140599".into(),
    };
    let c1 = registry::insert_consortium(&mut tx, &data).await.unwrap();
    registry::add_member(&mut tx, c1.id, town).await.unwrap();
    registry::add_member(&mut tx, c1.id, village).await.unwrap();
    let alliance = ConsortiumData {
        code: "C2".into(),
        name: "胸痛专科联盟".into(),
        kind: ConsortiumKind::SpecialtyAlliance,
        lead_institution_id: town,
        region_code: "140599".into(),
    };
    let c2 = registry::insert_consortium(&mut tx, &alliance)
        .await
        .unwrap();
    registry::add_member(&mut tx, c2.id, county).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = s.read().await.unwrap();
    assert_eq!(
        registry::get_consortium(&mut c, c1.id)
            .await
            .unwrap()
            .unwrap()
            .member_count,
        3
    );
    let of_county = registry::list_consortia(
        &mut c,
        &ConsortiumFilter {
            member_institution_id: Some(county),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        of_county.total, 2,
        "an institution may be in several consortia"
    );
    let in_c1 = registry::list_institutions(
        &mut c,
        &InstitutionFilter {
            consortium_id: Some(c1.id),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(in_c1.total, 3);
    assert!(matches!(
        registry::add_member(&mut c, c1.id, town).await,
        Err(StoreError::Unique(_))
    ));
    registry::remove_member(&mut c, c1.id, village)
        .await
        .unwrap();
    assert_eq!(registry::members(&mut c, c1.id).await.unwrap().len(), 2);
    assert!(matches!(
        registry::remove_member(&mut c, c1.id, village).await,
        Err(StoreError::NotFound)
    ));
}

async fn practitioners_with_several_sites(db: TestDb) {
    let s = &db.store;
    let (county, town, _) = seed_institutions(s).await;
    let mut c = s.read().await.unwrap();
    let d = PractitionerData {
        code: "P1".into(),
        name: "赵医生".into(),
        sex: "female".into(),
        profession: Profession::LicensedPhysician,
        specialty: Some("心血管内科".into()),
        is_gp: false,
        is_tcm: false,
        phone: "14500000001".into(),
        site_ids: vec![county, town],
    };
    let p = registry::insert_practitioner(&mut c, &d).await.unwrap();
    assert_eq!(
        p.sites.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![county, town],
        "main site first"
    );
    let at_town = registry::list_practitioners(
        &mut c,
        &PractitionerFilter {
            institution_id: Some(town),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(at_town.total, 1);
    let gps = registry::list_practitioners(
        &mut c,
        &PractitionerFilter {
            is_gp: Some(true),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(gps.total, 0);
    let mut d2 = d.clone();
    d2.is_gp = true;
    d2.site_ids = vec![town];
    let u = registry::update_practitioner(&mut c, p.row.id, 1, &d2)
        .await
        .unwrap();
    assert!(u.row.is_gp.0);
    assert_eq!(u.sites.len(), 1);
}

/// The township health centre's general practitioner (钱医生).
fn township_gp(town: i64) -> PractitionerData {
    PractitionerData {
        code: "P1".into(),
        name: "钱医生".into(),
        sex: "male".into(),
        profession: Profession::LicensedPhysician,
        specialty: None,
        is_gp: true,
        is_tcm: false,
        phone: String::new(),
        site_ids: vec![town],
    }
}

/// The township's first family doctor team, capacity 2,000.
fn first_team(town: i64, members: Vec<(i64, TeamRole)>) -> TeamData {
    TeamData {
        code: "T1".into(),
        name: "桃源镇第一团队".into(),
        institution_id: town,
        capacity: 2000,
        members,
    }
}

async fn teams_with_members(db: TestDb) {
    let s = &db.store;
    let (_, town, village) = seed_institutions(s).await;
    let mut c = s.read().await.unwrap();
    let gp = registry::insert_practitioner(&mut c, &township_gp(town))
        .await
        .unwrap();
    let vd = registry::insert_practitioner(
        &mut c,
        &PractitionerData {
            code: "P2".into(),
            name: "孙村医".into(),
            profession: Profession::VillageDoctor,
            is_gp: false,
            site_ids: vec![village],
            ..township_gp(town)
        },
    )
    .await
    .unwrap();
    let t = registry::insert_team(
        &mut c,
        &first_team(
            town,
            vec![
                (gp.row.id, TeamRole::Lead),
                (vd.row.id, TeamRole::VillageDoctor),
            ],
        ),
    )
    .await
    .unwrap();
    assert_eq!(t.members.len(), 2);
    let of_vd = registry::list_teams(
        &mut c,
        &TeamFilter {
            practitioner_id: Some(vd.row.id),
            ..Default::default()
        },
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(of_vd.items[0].id, t.row.id);
    let u = registry::update_team(
        &mut c,
        t.row.id,
        1,
        &TeamData {
            capacity: 2500,
            ..first_team(town, vec![(gp.row.id, TeamRole::Lead)])
        },
    )
    .await
    .unwrap();
    assert_eq!((u.row.capacity, u.members.len()), (2500, 1));
}

async fn residents_get_a_card_once_and_ids_are_unique(db: TestDb) {
    let s = &db.store;
    let (_, _, village) = seed_institutions(s).await;
    let mut tx = s.write().await.unwrap();
    let a = residents::insert(
        &mut tx,
        &resident("140599101201", (1960, 5, 1), 11, "王建国", "14500001111"),
        Some(village),
    )
    .await
    .unwrap();
    let b = residents::insert(
        &mut tx,
        &resident("140599101201", (1962, 7, 2), 12, "李秀英", "14500002222"),
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_ne!(a.health_card_id, b.health_card_id);
    assert!(yilian_domain::health_card::HealthCardId::parse(&a.health_card_id).is_some());
    assert_eq!(
        (
            a.name_pinyin.as_str(),
            a.name_initials.as_str(),
            a.sex.as_str()
        ),
        ("wangjianguo", "wjg", "male")
    );
    let mut c = s.read().await.unwrap();
    let again = residents::insert(
        &mut c,
        &resident("140599101202", (1960, 5, 1), 11, "王建国", "14500001111"),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(again, StoreError::Unique(ref t) if t == "residents.id_number"),
        "{again:?}"
    );
    assert_eq!(
        residents::count(&mut c).await.unwrap(),
        2,
        "the refused insert stored nothing"
    );
    let by_card = residents::get_by_card(&mut c, &a.health_card_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_card.id, a.id);
    let by_number = residents::get_by_id_number(&mut c, &a.id_number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        by_number.health_card_id, a.health_card_id,
        "the card resolves from the identity number"
    );
}

async fn resident_search_by_every_key_and_scope(db: TestDb) {
    let s = &db.store;
    let (_, _, village) = seed_institutions(s).await;
    let mut c = s.read().await.unwrap();
    let a = residents::insert(
        &mut c,
        &resident("140599101201", (1960, 5, 1), 11, "王建国", "14500001111"),
        None,
    )
    .await
    .unwrap();
    let b = residents::insert(
        &mut c,
        &resident("140599101202", (1970, 1, 1), 13, "王小明", "14500003333"),
        None,
    )
    .await
    .unwrap();
    let z = residents::insert(
        &mut c,
        &resident("140599102201", (1980, 1, 1), 15, "张伟", "14500004444"),
        Some(village),
    )
    .await
    .unwrap();
    let all = ResidentScope::All;
    let find = |q: &str| ResidentFilter {
        q: Some(q.into()),
        ..Default::default()
    };
    let ids = |p: yilian_store::Page<residents::ResidentRow>| {
        p.items.iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(
            residents::search(&mut c, &find("王"), &all, Paging::default())
                .await
                .unwrap()
        ),
        vec![a.id, b.id]
    );
    assert_eq!(
        ids(
            residents::search(&mut c, &find("wangx"), &all, Paging::default())
                .await
                .unwrap()
        ),
        vec![b.id]
    );
    assert_eq!(
        ids(
            residents::search(&mut c, &find("wjg"), &all, Paging::default())
                .await
                .unwrap()
        ),
        vec![a.id]
    );
    assert_eq!(
        ids(residents::search(
            &mut c,
            &find(&a.id_number.to_lowercase()),
            &all,
            Paging::default()
        )
        .await
        .unwrap()),
        vec![a.id]
    );
    assert_eq!(
        ids(
            residents::search(&mut c, &find(&z.health_card_id), &all, Paging::default())
                .await
                .unwrap()
        ),
        vec![z.id]
    );
    assert_eq!(
        ids(
            residents::search(&mut c, &find("14500003333"), &all, Paging::default())
                .await
                .unwrap()
        ),
        vec![b.id]
    );
    let village_scope = ResidentScope::Area {
        prefix: "140599101201".into(),
        institution_id: Some(village),
    };
    assert_eq!(
        ids(residents::search(
            &mut c,
            &ResidentFilter::default(),
            &village_scope,
            Paging::default()
        )
        .await
        .unwrap()),
        vec![a.id, z.id],
        "own village plus own registrations"
    );
    assert_eq!(
        ids(residents::search(
            &mut c,
            &ResidentFilter::default(),
            &ResidentScope::Only(b.id),
            Paging::default()
        )
        .await
        .unwrap()),
        vec![b.id]
    );
    assert_eq!(
        residents::search(
            &mut c,
            &ResidentFilter::default(),
            &ResidentScope::Nobody,
            Paging::default()
        )
        .await
        .unwrap()
        .total,
        0
    );
}

async fn resident_update_is_optimistic(db: TestDb) {
    let s = &db.store;
    seed_regions(s).await;
    let mut c = s.read().await.unwrap();
    let a = residents::insert(
        &mut c,
        &resident("140599101201", (1960, 5, 1), 11, "王建国", "14500001111"),
        None,
    )
    .await
    .unwrap();
    let changed = resident("140599101202", (1960, 5, 1), 11, "王建国", "14500009999");
    let u = residents::update(&mut c, a.id, 1, &changed).await.unwrap();
    assert_eq!(
        (u.version, u.phone.as_str(), u.region_code.as_str()),
        (2, "14500009999", "140599101202")
    );
    assert_eq!(u.health_card_id, a.health_card_id, "the card never changes");
    assert!(matches!(
        residents::update(&mut c, a.id, 1, &changed).await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert!(matches!(
        residents::update(&mut c, 999, 1, &changed).await,
        Err(StoreError::NotFound)
    ));
}

async fn merge_and_unmerge_keep_both_residents(db: TestDb) {
    let s = &db.store;
    seed_regions(s).await;
    let mut c = s.read().await.unwrap();
    let admin = users::insert(
        &mut c,
        &users::NewUser {
            username: "admin".into(),
            password_hash: "x".into(),
            role: "admin".into(),
            scope_code: None,
            institution_id: None,
            region_code: None,
            resident_id: None,
        },
    )
    .await
    .unwrap();
    let a = residents::insert(
        &mut c,
        &resident("140599101201", (1960, 5, 1), 11, "王建国", "14500001111"),
        None,
    )
    .await
    .unwrap();
    let b = residents::insert(
        &mut c,
        &resident("140599101201", (1960, 5, 1), 13, "王建囯", "14500001111"),
        None,
    )
    .await
    .unwrap();
    let mut tx = s.write().await.unwrap();
    let m = mpi::merge(&mut tx, a.id, b.id, None, "同一人重复建档", admin.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        residents::get(&mut c, b.id)
            .await
            .unwrap()
            .unwrap()
            .merged_into,
        Some(a.id)
    );
    assert_eq!(residents::merged_into(&mut c, a.id).await.unwrap().len(), 1);
    let visible = residents::search(
        &mut c,
        &ResidentFilter::default(),
        &ResidentScope::All,
        Paging::default(),
    )
    .await
    .unwrap();
    assert_eq!(visible.total, 1, "merged residents leave search");
    assert!(matches!(
        mpi::merge(&mut c, a.id, b.id, None, "again", admin.id).await,
        Err(StoreError::VersionConflict { .. })
    ));
    let u = mpi::unmerge(&mut c, m.id, admin.id).await.unwrap();
    assert!(u.undone_at.is_some());
    let after = residents::get(&mut c, b.id).await.unwrap().unwrap();
    assert_eq!(
        (
            after.merged_into,
            after.name.as_str(),
            after.id_number.as_str()
        ),
        (None, b.name.as_str(), b.id_number.as_str())
    );
    assert_eq!(residents::count(&mut c).await.unwrap(), 2);
    assert!(
        mpi::unmerge(&mut c, m.id, admin.id).await.is_err(),
        "an undone merge cannot be undone twice"
    );
}

async fn candidates_are_stored_once(db: TestDb) {
    let s = &db.store;
    seed_regions(s).await;
    let mut c = s.read().await.unwrap();
    let a = residents::insert(
        &mut c,
        &resident("140599101201", (1960, 5, 1), 11, "王建国", "14500001111"),
        None,
    )
    .await
    .unwrap();
    let b = residents::insert(
        &mut c,
        &resident("140599101201", (1960, 5, 1), 13, "王建囯", "14500001111"),
        None,
    )
    .await
    .unwrap();
    let cand = mpi::NewCandidate {
        a_id: a.id,
        b_id: b.id,
        score: 21.5,
        comparison: "{}".into(),
    };
    assert_eq!(
        mpi::insert_candidates(&mut c, std::slice::from_ref(&cand))
            .await
            .unwrap(),
        1
    );
    assert_eq!(mpi::insert_candidates(&mut c, &[cand]).await.unwrap(), 0);
    let page = mpi::list_candidates(&mut c, Some("open"), &ResidentScope::All, Paging::default())
        .await
        .unwrap();
    assert_eq!((page.total, page.items[0].a_name.as_str()), (1, "王建国"));
    mpi::set_candidate_status(&mut c, page.items[0].id, "rejected")
        .await
        .unwrap();
    assert_eq!(
        mpi::list_candidates(&mut c, Some("open"), &ResidentScope::All, Paging::default())
            .await
            .unwrap()
            .total,
        0
    );
    let other_area = ResidentScope::Area {
        prefix: "140599102".into(),
        institution_id: None,
    };
    assert_eq!(
        mpi::list_candidates(&mut c, None, &other_area, Paging::default())
            .await
            .unwrap()
            .total,
        0
    );
}

async fn sessions_expire_and_audit_appends(db: TestDb) {
    let s = &db.store;
    let mut c = s.read().await.unwrap();
    let u = users::insert(
        &mut c,
        &users::NewUser {
            username: "hc".into(),
            password_hash: "h".into(),
            role: "health_commission".into(),
            scope_code: Some("140599".into()),
            institution_id: None,
            region_code: None,
            resident_id: None,
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(users::insert(&mut c, &users::NewUser { username: "hc".into(), password_hash: "h".into(), role: "admin".into(), scope_code: None, institution_id: None, region_code: None, resident_id: None }).await, Err(StoreError::Unique(t)) if t == "users.username")
    );
    users::create_session(&mut c, "live", u.id, "csrf1", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    users::create_session(&mut c, "dead", u.id, "csrf2", "2000-01-01T00:00:00Z")
        .await
        .unwrap();
    let (who, csrf) = users::session_user(&mut c, "live").await.unwrap().unwrap();
    assert_eq!((who.username.as_str(), csrf.as_str()), ("hc", "csrf1"));
    assert!(users::session_user(&mut c, "dead").await.unwrap().is_none());
    assert_eq!(users::purge_expired(&mut c).await.unwrap(), 1);
    users::delete_session(&mut c, "live").await.unwrap();
    assert!(users::session_user(&mut c, "live").await.unwrap().is_none());
    audit::record(
        &mut c,
        Some(u.id),
        "read",
        "resident",
        "7",
        &serde_json::json!({"part": "detail"}),
    )
    .await
    .unwrap();
    audit::record(
        &mut c,
        Some(u.id),
        "update",
        "resident",
        "7",
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    let log = audit::for_entity(&mut c, "resident", "7").await.unwrap();
    assert_eq!(
        log.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["read", "update"]
    );
}

async fn bulk_insert_and_ground_truth(db: TestDb) {
    let s = &db.store;
    seed_regions(s).await;
    let rows: Vec<ValidResident> = (0..1200u16)
        .map(|i| {
            resident(
                if i % 2 == 0 {
                    "140599101201"
                } else {
                    "140599102201"
                },
                (
                    1950 + (i % 60) as i32,
                    1 + (i % 12) as u32,
                    1 + (i % 28) as u32,
                ),
                i % 1000,
                "刘洋",
                "14500005555",
            )
        })
        .collect();
    // Sequence wraps at 1000: make numbers unique by birth date spread.
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<ValidResident> = rows
        .into_iter()
        .filter(|r| seen.insert(r.id_number.to_string()))
        .collect();
    let mut tx = s.write().await.unwrap();
    let ids = bulk::insert_residents(&mut tx, &rows, None).await.unwrap();
    mpi::insert_truth(&mut tx, &[(ids[1], ids[0])])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids.len(), rows.len());
    let mut c = s.read().await.unwrap();
    for (i, r) in rows.iter().enumerate().step_by(97) {
        let got = residents::get(&mut c, ids[i]).await.unwrap().unwrap();
        assert_eq!(
            got.id_number,
            r.id_number.as_str(),
            "ids come back in input order"
        );
    }
    let cards: std::collections::HashSet<String> = residents::search(
        &mut c,
        &ResidentFilter::default(),
        &ResidentScope::All,
        Paging::new(Some(500), None),
    )
    .await
    .unwrap()
    .items
    .into_iter()
    .map(|r| r.health_card_id)
    .collect();
    assert_eq!(cards.len(), 500, "cards are unique");
    let truth = mpi::truth(&mut c).await.unwrap();
    assert_eq!(
        (truth[0].resident_id, truth[0].original_id),
        (ids[1], ids[0])
    );
    assert_eq!(
        mpi::link_fields(&mut c, Some("140599101"))
            .await
            .unwrap()
            .len(),
        rows.iter()
            .filter(|r| r.region_code.as_str().starts_with("140599101"))
            .count()
    );
}

/// A generated referral: `steps` are (event, from, to) in order, times one
/// hour apart from `submitted` (CST) — stored in UTC for the trail.
fn bulk_referral(
    resident_id: i64,
    from: i64,
    to: i64,
    submitted: &str,
    steps: &[(&str, &str, &str)],
) -> bulk::BulkReferral {
    use yilian_store::referrals::NewReferral;
    let t0 = chrono::NaiveDateTime::parse_from_str(submitted, "%Y-%m-%dT%H:%M:%S").unwrap();
    let utc = |k: usize| {
        (t0 - chrono::Duration::hours(8) + chrono::Duration::hours(k as i64))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let events: Vec<bulk::BulkEvent> = steps
        .iter()
        .enumerate()
        .map(|(k, (event, from, to))| bulk::BulkEvent {
            at: utc(k),
            event: event.to_string(),
            from_state: from.to_string(),
            to_state: to.to_string(),
            role: if k == 0 {
                "primary_clinician"
            } else {
                "referral_desk"
            }
            .into(),
            note: if *event == "decline" {
                "床位已满".into()
            } else {
                String::new()
            },
        })
        .collect();
    let state = steps.last().map(|s| s.2).unwrap_or("submitted").to_string();
    bulk::BulkReferral {
        referral: NewReferral {
            resident_id,
            direction: "up".into(),
            urgency: "routine".into(),
            green_channel: None,
            from_institution_id: from,
            to_institution_id: to,
            to_department: "心血管内科".into(),
            icd10: "I20.0".into(),
            diagnosis: "不稳定型心绞痛".into(),
            reason: "反复胸痛".into(),
            justification: None,
            summary: "患者男，66岁。".into(),
            results: String::new(),
            follow_up_plan: String::new(),
            team_id: None,
            contracted: false,
            priority: 4,
            state: state.clone(),
            findings: "[]".into(),
            submitted_at: Some(submitted.into()),
            deadline_at: Some(
                (t0 + chrono::Duration::hours(72))
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string(),
            ),
            redirected_from: None,
            created_by: None,
        },
        decline_reason: (state == "declined").then(|| "床位已满".into()),
        created_at: utc(0),
        updated_at: utc(steps.len().saturating_sub(1)),
        redirected_from_row: None,
        events,
        appointment: None,
    }
}

fn appointment(institution_id: i64, starts_at: &str, status: &str) -> bulk::BulkAppointment {
    let t = chrono::NaiveDateTime::parse_from_str(starts_at, "%Y-%m-%dT%H:%M:%S").unwrap();
    bulk::BulkAppointment {
        slot: yilian_store::referrals::NewSlot {
            institution_id,
            department: "心血管内科".into(),
            starts_at: starts_at.into(),
            ends_at: (t + chrono::Duration::minutes(15))
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string(),
            reserved_for_referral: true,
            release_hours: 24,
        },
        status: status.into(),
        created_at: "2026-11-01T01:00:00Z".into(),
        updated_at: "2026-11-01T01:00:00Z".into(),
    }
}

async fn bulk_referrals_read_back(db: TestDb) {
    use yilian_store::referrals::{self, ReferralFilter};
    let s = &db.store;
    let (county, town, _village) = seed_institutions(s).await;
    let people: Vec<ValidResident> = (0..30u16)
        .map(|i| {
            resident(
                "140599101201",
                (1950, 1 + (i % 12) as u32, 1 + i as u32 % 28),
                i,
                "王芳",
                "14500006666",
            )
        })
        .collect();
    let mut tx = s.write().await.unwrap();
    let rids = bulk::insert_residents(&mut tx, &people, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let done = [
        ("create", "draft", "submitted"),
        ("accept", "submitted", "accepted"),
        ("schedule", "accepted", "scheduled"),
        ("arrive", "scheduled", "arrived"),
        ("complete", "arrived", "completed"),
    ];
    let mut rows = Vec::new();
    // 0: completed, attended appointment.
    let mut r = bulk_referral(rids[0], town, county, "2026-10-01T09:00:00", &done);
    r.appointment = Some(appointment(county, "2026-10-03T08:30:00", "attended"));
    rows.push(r);
    // 1: declined; 2: redirected from it, scheduled with a booked slot ahead.
    rows.push(bulk_referral(
        rids[1],
        town,
        county,
        "2026-11-10T10:00:00",
        &[
            ("create", "draft", "submitted"),
            ("decline", "submitted", "declined"),
        ],
    ));
    let mut r = bulk_referral(rids[1], town, county, "2026-11-10T15:00:00", &done[..3]);
    r.redirected_from_row = Some(1);
    r.appointment = Some(appointment(county, "2030-01-02T09:00:00", "booked"));
    rows.push(r);
    // 3: submitted long ago and never answered (overdue).
    rows.push(bulk_referral(
        rids[2],
        town,
        county,
        "2026-11-15T09:00:00",
        &done[..1],
    ));
    // Many more, past one INSERT's rows: completed, two per resident, the
    // same slot time (interchangeable slots).
    for i in 0..420usize {
        let day = 1 + (i % 28);
        let submitted = format!("2026-0{}-{day:02}T{:02}:00:00", 1 + i % 9, 8 + i % 9);
        let mut r = bulk_referral(rids[3 + i % 27], town, county, &submitted, &done);
        r.appointment = Some(appointment(county, "2026-10-05T08:00:00", "attended"));
        rows.push(r);
    }
    // Keys are (resident, submitted_at): drop accidental repeats.
    let mut seen = std::collections::HashSet::new();
    rows.retain(|r| seen.insert((r.referral.resident_id, r.referral.submitted_at.clone())));
    let mut tx = s.write().await.unwrap();
    let ids = bulk::insert_referrals(&mut tx, &rows).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids.len(), rows.len());

    let mut c = s.read().await.unwrap();
    let first = referrals::get(&mut c, ids[0]).await.unwrap().unwrap();
    assert_eq!(first.state, "completed");
    assert_eq!(first.resident_id, rids[0]);
    assert_eq!(first.version, 5, "one version per change after creation");
    assert_eq!(first.submitted_at.as_deref(), Some("2026-10-01T09:00:00"));
    assert_eq!(first.created_at, "2026-10-01T01:00:00Z");
    let trail = referrals::events(&mut c, ids[0]).await.unwrap();
    assert_eq!(
        trail.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["create", "accept", "schedule", "arrive", "complete"]
    );
    assert!(trail.windows(2).all(|w| w[0].at < w[1].at));
    let appt = referrals::get_appointment(&mut c, first.appointment_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(appt.status, "attended");
    assert_eq!(appt.referral_id, Some(ids[0]));
    assert_eq!(appt.starts_at, "2026-10-03T08:30:00");

    let declined = referrals::get(&mut c, ids[1]).await.unwrap().unwrap();
    assert_eq!(declined.decline_reason.as_deref(), Some("床位已满"));
    let redirect = referrals::get(&mut c, ids[2]).await.unwrap().unwrap();
    assert_eq!(redirect.redirected_from, Some(ids[1]));
    assert_eq!(redirect.state, "scheduled");
    let held = referrals::get_appointment(&mut c, redirect.appointment_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    let slot = referrals::get_slot(&mut c, held.slot_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((slot.booked, slot.reserved_for_referral), (1, 1));

    let overdue = referrals::overdue(&mut c, "2026-11-22T08:00:00")
        .await
        .unwrap();
    assert_eq!(overdue.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[3]]);
    let inbox = referrals::list(
        &mut c,
        &ReferralFilter {
            to_institution_id: Some(county),
            open_only: true,
            ..Default::default()
        },
        Paging::new(Some(500), None),
    )
    .await
    .unwrap();
    assert_eq!(
        inbox.total, 2,
        "the redirect and the unanswered one are open"
    );
    let all = referrals::list(
        &mut c,
        &ReferralFilter {
            from_institution_id: Some(town),
            ..Default::default()
        },
        Paging::new(Some(500), None),
    )
    .await
    .unwrap();
    assert_eq!(all.total as usize, rows.len());
    let mine = referrals::appointments_of(&mut c, &[rids[3]])
        .await
        .unwrap();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|a| a.referral_id.is_some()));
    // Every appointment has its own slot, linked both ways.
    for (row, id) in rows.iter().zip(&ids).step_by(37) {
        let r = referrals::get(&mut c, *id).await.unwrap().unwrap();
        assert_eq!(r.appointment_id.is_some(), row.appointment.is_some());
        assert_eq!(
            referrals::events(&mut c, *id).await.unwrap().len(),
            row.events.len()
        );
    }
    drop(c);
    // The booked slot stays single: booking it again is refused.
    let mut tx = s.write().await.unwrap();
    let again = referrals::book(&mut tx, held.slot_id, rids[4], None, None).await;
    assert!(
        matches!(&again, Err(StoreError::Unique(t)) if t == "appointments.slot_id"),
        "{again:?}"
    );
    drop(tx);
    // A bulk-written referral moves on like any other.
    let mut tx = s.write().await.unwrap();
    referrals::set_state(&mut tx, ids[3], "submitted", "accepted", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut c = s.read().await.unwrap();
    let moved = referrals::get(&mut c, ids[3]).await.unwrap().unwrap();
    assert_eq!((moved.state.as_str(), moved.version), ("accepted", 2));
}

async fn backup_and_restore_round_trip(db: TestDb) {
    let s = &db.store;
    seed_regions(s).await;
    if s.backend() == Backend::Postgres
        && std::process::Command::new("pg_dump")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("SKIPPED backup on PostgreSQL: pg_dump is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.bin");
    {
        let mut c = s.read().await.unwrap();
        residents::insert(
            &mut c,
            &resident("140599101201", (1960, 5, 1), 11, "王建国", "14500001111"),
            None,
        )
        .await
        .unwrap();
    }
    backup::backup(s, &file).await.unwrap();
    assert!(
        backup::backup(s, &file).await.is_err(),
        "an existing file is never overwritten"
    );
    {
        let mut c = s.read().await.unwrap();
        residents::insert(
            &mut c,
            &resident("140599101201", (1961, 5, 1), 13, "李四", "14500001112"),
            None,
        )
        .await
        .unwrap();
    }
    if s.backend() == Backend::Sqlite {
        s.close().await;
    }
    backup::restore(&db.url, &file).await.unwrap();
    let reopened = Store::open(&db.url).await.unwrap();
    let mut c = reopened.read().await.unwrap();
    assert_eq!(
        residents::count(&mut c).await.unwrap(),
        1,
        "restore brings back the backed-up state"
    );
}

// ---------------------------------------------------------------- 检查检验结果互认

/// A result or encounter in the record of `resident` at `institution`.
fn entry(
    resident: i64,
    institution: i64,
    kind: &str,
    code: &str,
    at: &str,
    hr: bool,
) -> yilian_store::records::NewEntry {
    yilian_store::records::NewEntry {
        resident_id: resident,
        institution_id: institution,
        kind: kind.into(),
        encounter_type: (kind == "encounter").then(|| code.to_string()),
        occurred_at: at.into(),
        code: if kind == "encounter" {
            String::new()
        } else {
            code.into()
        },
        title: format!("{kind} {code}"),
        value: "7.1".into(),
        unit: "%".into(),
        hr_mark: hr,
        source: "manual".into(),
        ..Default::default()
    }
}

async fn recognition_candidates_treatments_and_standing(db: TestDb) {
    use yilian_store::recognition::{self as rec, NewLabQuality};
    use yilian_store::records;
    let s = &db.store;
    let (county, town, village) = seed_institutions(s).await;
    let mut tx = s.write().await.unwrap();
    let c1 = registry::insert_consortium(
        &mut tx,
        &ConsortiumData {
            code: "C1".into(),
            name: "青禾县医共体".into(),
            kind: ConsortiumKind::CountyConsortium,
            lead_institution_id: county,
            region_code: "140599".into(),
        },
    )
    .await
    .unwrap();
    registry::add_member(&mut tx, c1.id, town).await.unwrap();
    let a = residents::insert(
        &mut tx,
        &resident("140599101201", (1958, 3, 9), 11, "王建国", "14500001111"),
        Some(village),
    )
    .await
    .unwrap();
    // A duplicate record of the same person, merged into `a`.
    let b = residents::insert(
        &mut tx,
        &resident("140599101201", (1958, 3, 9), 13, "王建囯", "14500001111"),
        None,
    )
    .await
    .unwrap();
    let mut q = yilian_store::sql::Sql::new("UPDATE residents SET merged_into = ");
    q.bind(a.id).push(" WHERE id = ").bind(b.id);
    q.execute(&mut tx).await.unwrap();
    // The county lab passed external quality assessment for 2026.
    let pass = rec::insert_lab_quality(
        &mut tx,
        &NewLabQuality {
            institution_id: county,
            passed_on: "2026-01-10".into(),
            valid_until: "2026-12-31".into(),
            assessor: "省临床检验中心".into(),
            note: String::new(),
            recorded_by: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(pass.valid_until, "2026-12-31");
    let county_hba1c = records::insert_entry(
        &mut tx,
        &entry(a.id, county, "lab", "hba1c", "2026-10-13T09:00:00", true),
    )
    .await
    .unwrap();
    let village_hba1c = records::insert_entry(
        &mut tx,
        &entry(a.id, village, "lab", "hba1c", "2026-11-01T08:30:00", true),
    )
    .await
    .unwrap();
    // Taken before the county's pass: not in good standing that day.
    let early = records::insert_entry(
        &mut tx,
        &entry(b.id, county, "lab", "hba1c", "2026-01-09T23:59:59", true),
    )
    .await
    .unwrap();
    for e in [
        entry(a.id, county, "lab", "cbc", "2026-11-01T08:00:00", true),
        entry(
            a.id,
            county,
            "document",
            "hba1c",
            "2026-11-02T08:00:00",
            false,
        ),
        entry(
            a.id,
            town,
            "encounter",
            "emergency",
            "2026-09-01T10:00:00",
            false,
        ),
        entry(
            a.id,
            town,
            "encounter",
            "inpatient",
            "2026-10-20T10:00:00",
            false,
        ),
        entry(
            a.id,
            town,
            "encounter",
            "outpatient",
            "2026-10-21T10:00:00",
            false,
        ),
        entry(
            b.id,
            county,
            "encounter",
            "emergency",
            "2026-10-25T03:00:00",
            false,
        ),
    ] {
        records::insert_entry(&mut tx, &e).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut c = s.read().await.unwrap();
    // Only lab/exam entries of the item, the merged record's too, newest first.
    let found = rec::candidates(&mut c, a.id, "hba1c").await.unwrap();
    let ids: Vec<i64> = found.iter().map(|r| r.entry_id).collect();
    assert_eq!(ids, [village_hba1c, county_hba1c, early]);
    let standing: Vec<i64> = found.iter().map(|r| r.eqa_passed).collect();
    assert_eq!(standing, [0, 1, 0]);
    assert_eq!(found[1].institution_kind, "county_general_hospital");
    assert_eq!(found[1].hr_mark, 1);
    assert_eq!(found[1].occurred_at, "2026-10-13T09:00:00");
    assert!(
        rec::candidates(&mut c, a.id, "lipids")
            .await
            .unwrap()
            .is_empty()
    );
    // The merged record is read through the survivor, not the other way round.
    assert_eq!(
        rec::candidates(&mut c, b.id, "hba1c").await.unwrap().len(),
        1
    );

    // Good standing: both ends of the pass inclusive.
    for (day, want) in [
        ("2026-01-09", false),
        ("2026-01-10", true),
        ("2026-12-31", true),
        ("2027-01-01", false),
    ] {
        assert_eq!(
            rec::in_good_standing(&mut c, county, day).await.unwrap(),
            want,
            "{day}"
        );
    }
    assert!(
        !rec::in_good_standing(&mut c, town, "2026-06-01")
            .await
            .unwrap()
    );
    assert_eq!(rec::lab_quality_of(&mut c, county).await.unwrap().len(), 1);

    // Consortia, as member and as lead; none for the village clinic.
    assert_eq!(
        rec::consortia_of(&mut c, &[county, town, village])
            .await
            .unwrap(),
        [(county, c1.id), (town, c1.id)]
    );
    assert!(rec::consortia_of(&mut c, &[]).await.unwrap().is_empty());

    // Treatments: inpatient and emergency encounters since the given time.
    let t = rec::treatments(&mut c, a.id, "2026-10-13T09:00:00")
        .await
        .unwrap();
    let kinds: Vec<(&str, &str)> = t
        .iter()
        .map(|t| (t.encounter_type.as_str(), t.occurred_at.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("inpatient", "2026-10-20T10:00:00"),
            ("emergency", "2026-10-25T03:00:00")
        ]
    );
}

async fn recognition_orders_and_report(db: TestDb) {
    use yilian_store::recognition::{self as rec, NewOrder, ReportFilter};
    let s = &db.store;
    let (county, town, village) = seed_institutions(s).await;
    let mut tx = s.write().await.unwrap();
    let c1 = registry::insert_consortium(
        &mut tx,
        &ConsortiumData {
            code: "C1".into(),
            name: "青禾县医共体".into(),
            kind: ConsortiumKind::CountyConsortium,
            lead_institution_id: county,
            region_code: "140599".into(),
        },
    )
    .await
    .unwrap();
    registry::add_member(&mut tx, c1.id, town).await.unwrap();
    let a = residents::insert(
        &mut tx,
        &resident("140599101201", (1958, 3, 9), 11, "王建国", "14500001111"),
        Some(village),
    )
    .await
    .unwrap();
    let result = yilian_store::records::insert_entry(
        &mut tx,
        &entry(a.id, county, "lab", "hba1c", "2026-10-13T09:00:00", true),
    )
    .await
    .unwrap();
    let order = |institution: i64, at: &str, outcome: &str| NewOrder {
        resident_id: a.id,
        institution_id: institution,
        item_code: "hba1c".into(),
        item_kind: "lab".into(),
        ordered_by: None,
        ordered_at: at.into(),
        outcome: outcome.into(),
        ..Default::default()
    };
    let mut orders = vec![
        NewOrder {
            recognized_entry_id: Some(result),
            result_institution_id: Some(county),
            saved_fen: 6000,
            ..order(town, "2026-11-01T00:00:00", "recognized")
        },
        NewOrder {
            recognized_entry_id: Some(result),
            result_institution_id: Some(county),
            saved_fen: 6000,
            ..order(town, "2026-11-30T23:59:59", "recognized")
        },
        NewOrder {
            recognized_entry_id: Some(result),
            result_institution_id: Some(county),
            repeat_reason: Some("patient_request".into()),
            ..order(town, "2026-11-10T10:00:00", "repeated")
        },
        NewOrder {
            repeat_reason: Some("other".into()),
            repeat_text: "外院报告丢失".into(),
            ..order(county, "2026-11-11T10:00:00", "repeated")
        },
        order(county, "2026-11-12T10:00:00", "new"),
        order(village, "2026-11-13T10:00:00", "new"),
        // Outside the period.
        NewOrder {
            saved_fen: 6000,
            ..order(town, "2026-10-31T23:59:59", "recognized")
        },
        order(county, "2026-12-01T00:00:00", "new"),
    ];
    let mut again = Vec::new();
    for o in orders.drain(..) {
        again.push(rec::insert_order(&mut tx, &o).await.unwrap());
    }
    tx.commit().await.unwrap();
    // The outcome is one of three.
    let mut tx = s.write().await.unwrap();
    assert!(
        rec::insert_order(&mut tx, &order(town, "2026-11-01T00:00:00", "maybe"))
            .await
            .is_err()
    );
    drop(tx);

    let mut c = s.read().await.unwrap();
    assert_eq!(rec::count_orders(&mut c).await.unwrap(), 8);
    let first = rec::get_order(&mut c, again[0]).await.unwrap().unwrap();
    assert_eq!(
        (
            first.outcome.as_str(),
            first.saved_fen,
            first.recognized_entry_id,
            first.result_institution_name.as_deref()
        ),
        ("recognized", 6000, Some(result), Some("机构H001"))
    );
    let listed = rec::orders_of(&mut c, a.id, 3).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|o| o.ordered_at.as_str())
            .collect::<Vec<_>>(),
        [
            "2026-12-01T00:00:00",
            "2026-11-30T23:59:59",
            "2026-11-13T10:00:00"
        ]
    );

    let november = ReportFilter {
        from: "2026-11-01".into(),
        to: "2026-11-30".into(),
        region_prefix: None,
    };
    let cells = rec::report_by_institution(&mut c, &november).await.unwrap();
    let got: Vec<(i64, &str, &str, i64, i64)> = cells
        .iter()
        .map(|x| {
            (
                x.group_id,
                x.outcome.as_str(),
                x.reason.as_str(),
                x.orders,
                x.saved_fen,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (county, "new", "", 1, 0),
            (county, "repeated", "other", 1, 0),
            (town, "recognized", "", 2, 12000),
            (town, "repeated", "patient_request", 1, 0),
            (village, "new", "", 1, 0),
        ]
    );
    // The consortium counts its lead's and members' orders, not the village's.
    let cells = rec::report_by_consortium(&mut c, &november).await.unwrap();
    assert!(cells.iter().all(|x| x.group_id == c1.id));
    assert_eq!(cells.iter().map(|x| x.orders).sum::<i64>(), 5);
    assert_eq!(cells.iter().map(|x| x.saved_fen).sum::<i64>(), 12000);
    // A region prefix keeps the institutions inside it.
    let township = ReportFilter {
        region_prefix: Some("140599101".into()),
        ..november.clone()
    };
    let cells = rec::report_by_institution(&mut c, &township).await.unwrap();
    assert!(
        cells
            .iter()
            .all(|x| x.group_id == town || x.group_id == village)
    );
    assert_eq!(cells.len(), 3);
    assert!(
        rec::report_by_consortium(&mut c, &township)
            .await
            .unwrap()
            .is_empty()
    );
}

// 远程诊断 — its own file, with its own `contract!` list.
#[path = "contract/remote.rs"]
mod remote;

/// A treating doctor's granted read of resident 1000 + `n`'s timeline.
fn timeline_read(n: i64, username: &str) -> yilian_store::records::NewAccess {
    yilian_store::records::NewAccess {
        user_id: Some(n),
        username: username.into(),
        role: "doctor".into(),
        resident_id: 1000 + n,
        part: "timeline".into(),
        ground: "treating".into(),
        outcome: "granted".into(),
        ..Default::default()
    }
}

/// Reads logged at the same moment through the store's writer (batched) and
/// an append inside a caller's transaction all land, each once, on one
/// unbroken chain.
async fn access_log_group_commit_keeps_one_chain(db: TestDb) {
    use yilian_store::records;
    let s = &db.store;
    let entry = |n: i64| timeline_read(n, &format!("reader{n}"));
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let s = s.clone();
            let e = entry(n);
            tokio::spawn(async move { s.log_access(e).await })
        })
        .collect();
    let mut tx = s.write().await.unwrap();
    let own = records::append_access(&mut tx, &entry(99)).await.unwrap();
    tx.commit().await.unwrap();
    let mut ids = vec![own];
    for t in tasks {
        ids.push(t.await.unwrap().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=41).collect::<Vec<i64>>(),
        "every entry once, no gap"
    );
    let mut c = s.read().await.unwrap();
    let v = records::verify(&mut c).await.unwrap();
    assert_eq!((v.checked, v.broken), (41, None));
    let f = records::AccessFilter {
        user_id: Some(7),
        ..Default::default()
    };
    let mine = records::access_log(&mut c, &f, Paging::default())
        .await
        .unwrap();
    assert_eq!(mine.total, 1);
    assert_eq!(mine.items[0].resident_id, 1007);
}

/// The three institutions, and a resident in each of two townships
/// (桃源镇 140599101, 柳溪乡 140599102): (institutions, a, b).
async fn seed_two_townships(s: &Store) -> ((i64, i64, i64), i64, i64) {
    let institutions = seed_institutions(s).await;
    let mut tx = s.write().await.unwrap();
    let a = residents::insert(
        &mut tx,
        &resident("140599101201", (1958, 3, 9), 11, "王建国", "14500001111"),
        None,
    )
    .await
    .unwrap();
    let b = residents::insert(
        &mut tx,
        &resident("140599102201", (1961, 5, 2), 21, "李秀英", "14500002222"),
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (institutions, a.id, b.id)
}

/// The monitoring period January–April 2026.
fn first_four_months() -> yilian_store::monitoring::Period {
    yilian_store::monitoring::Period {
        from: "2026-01-01".into(),
        to: "2026-05-01".into(),
    }
}

/// The per-day encounter rollup the monitoring indicators read counts every
/// encounter however it is written (one entry, a bulk load), nothing else,
/// at the resident's township when written; record entries cannot be
/// deleted or moved under it.
async fn encounter_rollup_counts_every_write(db: TestDb) {
    use yilian_store::monitoring::{self, Fact};
    use yilian_store::records;
    let s = &db.store;
    let ((county, town, village), a, b) = seed_two_townships(s).await;
    let mut tx = s.write().await.unwrap();
    // One at a time: the last second of March, and a lab result (not an encounter).
    let first = records::insert_entry(
        &mut tx,
        &entry(
            a,
            village,
            "encounter",
            "outpatient",
            "2026-03-31T23:59:59",
            false,
        ),
    )
    .await
    .unwrap();
    records::insert_entry(
        &mut tx,
        &entry(a, county, "lab", "hba1c", "2026-04-01T08:00:00", true),
    )
    .await
    .unwrap();
    // A bulk load: three at the township center on one day, one in April,
    // one on the period's last day (excluded: the period ends before it).
    let visit = |resident_id: i64, institution_id: i64, at: &str| bulk::BulkEncounter {
        resident_id,
        institution_id,
        encounter_type: "outpatient",
        occurred_at: at.into(),
        code: "I10",
        title: "高血压",
    };
    bulk::insert_encounters(
        &mut tx,
        &[
            visit(a, town, "2026-04-01T08:00:00"),
            visit(b, town, "2026-04-01T09:00:00"),
            visit(b, town, "2026-04-01T10:00:00"),
            visit(b, county, "2026-04-30T10:00:00"),
            visit(b, county, "2026-05-01T00:00:00"),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let period = first_four_months();
    let sorted = |mut v: Vec<Fact>| {
        v.sort_by(|x, y| {
            (&x.month, x.institution_id, &x.township).cmp(&(
                &y.month,
                y.institution_id,
                &y.township,
            ))
        });
        v
    };
    let fact = |month: &str, institution: i64, township: &str, n: i64| Fact {
        month: month.into(),
        institution_id: Some(institution),
        township: Some(township.into()),
        n,
    };
    let expected = vec![
        fact("2026-03", village, "140599101", 1),
        fact("2026-04", county, "140599102", 1),
        fact("2026-04", town, "140599101", 1),
        fact("2026-04", town, "140599102", 2),
    ];
    let mut c = s.read().await.unwrap();
    let rolled = sorted(monitoring::encounters(&mut c, &period).await.unwrap());
    assert_eq!(rolled, expected);
    assert_eq!(
        sorted(
            monitoring::encounters_from_record(&mut c, &period)
                .await
                .unwrap()
        ),
        expected
    );
    drop(c);

    // Resident b moves to 桃源镇: their past visits stay counted where they lived.
    let mut tx = s.write().await.unwrap();
    let mut q = yilian_store::sql::Sql::new(
        "UPDATE residents SET region_code = '140599101202' WHERE id = ",
    );
    q.bind(b);
    q.execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = s.read().await.unwrap();
    assert_eq!(
        sorted(monitoring::encounters(&mut c, &period).await.unwrap()),
        expected
    );
    drop(c);

    // The record is append-only: neither deleting an entry nor moving it
    // to another day goes through, and the rollup is unchanged.
    for sql in [
        format!("DELETE FROM record_entries WHERE id = {first}"),
        format!("UPDATE record_entries SET occurred_at = '2026-02-01T08:00:00' WHERE id = {first}"),
    ] {
        let mut tx = s.write().await.unwrap();
        let refused = yilian_store::sql::Sql::new(&sql).execute(&mut tx).await;
        assert!(refused.is_err(), "{sql} must be refused");
        tx.rollback().await.unwrap();
    }
    let mut c = s.read().await.unwrap();
    assert_eq!(
        sorted(monitoring::encounters(&mut c, &period).await.unwrap()),
        expected
    );
}

/// A managed patient's facts for a period: the follow-ups inside it, and the
/// institution and control of the last one (the later-written of two on the
/// same day); enrolments after the period are not counted.
async fn chronic_facts_take_the_periods_last_followup(db: TestDb) {
    use yilian_store::care::{self, NewEnrolment, NewFollowUp};
    use yilian_store::monitoring;
    let s = &db.store;
    let ((county, town, village), a, b) = seed_two_townships(s).await;
    let mut tx = s.write().await.unwrap();
    let enrol = |resident_id: i64, program: &str, on: &str| NewEnrolment {
        resident_id,
        program: program.into(),
        source: "screening".into(),
        enrolled_on: on.into(),
        factors: "{}".into(),
        risk: "low".into(),
        next_due: on.into(),
        assessment_on: None,
        plan: None,
    };
    let htn = care::insert_enrolment(&mut tx, &enrol(a, "hypertension", "2026-01-10"))
        .await
        .unwrap();
    let dm = care::insert_enrolment(&mut tx, &enrol(a, "diabetes_t2", "2026-03-01"))
        .await
        .unwrap();
    care::insert_enrolment(&mut tx, &enrol(b, "hypertension", "2026-06-01"))
        .await
        .unwrap();
    for (date, controlled, institution) in [
        ("2025-12-20", true, village),
        ("2026-02-01", false, town),
        ("2026-04-15", true, village),
        ("2026-04-15", false, county),
        ("2026-05-01", true, village),
    ] {
        care::insert_followup(
            &mut tx,
            &NewFollowUp {
                enrolment_id: htn.id,
                resident_id: a,
                date: date.into(),
                specialist_review: false,
                sbp: Some(150),
                dbp: Some(92),
                heart_rate: None,
                fasting_glucose: None,
                hba1c: None,
                weight_kg: None,
                smoking: false,
                adherence: "regular".into(),
                controlled: Some(controlled),
                risk_after: "low".into(),
                note: String::new(),
                practitioner_id: None,
                institution_id: Some(institution),
                recorded_by: None,
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let period = first_four_months();
    let mut c = s.read().await.unwrap();
    let mut facts = monitoring::chronic(&mut c, &period).await.unwrap();
    facts.sort_by_key(|f| f.enrolment_id);
    let got: Vec<_> = facts
        .iter()
        .map(|f| {
            (
                f.enrolment_id,
                f.program.as_str(),
                f.township.as_deref(),
                f.followups,
                f.institution_id,
                f.controlled,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                htn.id,
                "hypertension",
                Some("140599101"),
                3,
                Some(county),
                Some(0)
            ),
            (dm.id, "diabetes_t2", Some("140599101"), 0, None, None),
        ]
    );
}

/// The township GP and a team they lead: (practitioner id, team id).
async fn seed_team(c: &mut yilian_store::Conn, town: i64) -> (i64, i64) {
    let doctor = registry::insert_practitioner(c, &township_gp(town))
        .await
        .unwrap();
    let team = registry::insert_team(c, &first_team(town, vec![(doctor.row.id, TeamRole::Lead)]))
        .await
        .unwrap();
    (doctor.row.id, team.row.id)
}

/// A contract for 2026 with the team's doctor, and these packages.
fn contract_for_2026(
    resident_id: i64,
    team_id: i64,
    doctor_id: i64,
    packages: Vec<(String, u32)>,
) -> yilian_store::care::NewContract {
    yilian_store::care::NewContract {
        resident_id,
        team_id,
        doctor_id,
        household_code: None,
        start_date: "2026-01-01".into(),
        end_date: "2026-12-31".into(),
        secondary_hospital_id: None,
        tertiary_hospital_id: None,
        fee_fen: 0,
        previous_id: None,
        signed_by: None,
        packages,
    }
}

/// The monitoring's active contracts carry their packages and delivered
/// counts per kind (folded into one row each by the store); a contract
/// with neither has empty lists.
async fn active_contracts_carry_packages_and_deliveries(db: TestDb) {
    use yilian_store::{care, monitoring};
    let s = &db.store;
    let ((_, town, _), a, b) = seed_two_townships(s).await;
    let mut tx = s.write().await.unwrap();
    let (doctor, team) = seed_team(&mut tx, town).await;
    let packages = vec![("basic".to_string(), 1), ("elderly".to_string(), 2)];
    let with = care::insert_contract(&mut tx, &contract_for_2026(a, team, doctor, packages))
        .await
        .unwrap();
    care::insert_contract(&mut tx, &contract_for_2026(b, team, doctor, vec![]))
        .await
        .unwrap();
    for (kind, date) in [
        ("followup", "2026-02-01"),
        ("checkup", "2026-03-01"),
        ("followup", "2026-05-01"),
    ] {
        care::record_delivery(&mut tx, with, kind, date, Some(doctor))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut c = s.read().await.unwrap();
    let mut facts = monitoring::active_contracts(&mut c).await.unwrap();
    facts.sort_by_key(|f| f.resident_id);
    let got: Vec<_> = facts
        .into_iter()
        .map(|mut f| {
            f.packages.sort();
            f.delivered.sort();
            (f.resident_id, f.institution_id, f.packages, f.delivered)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                a,
                town,
                vec!["basic".to_string(), "elderly".to_string()],
                vec![("checkup".to_string(), 1), ("followup".to_string(), 2)]
            ),
            (b, town, vec![], vec![]),
        ]
    );
}

/// The township the indicators count contracts, chronic enrolments and
/// remote reads by is kept on those rows (migration 0013): set from the
/// resident when a row is written, rewritten on every row of a resident who
/// moves to another township, untouched by a move within one — so the facts
/// always carry the resident's current township, as a join would.
async fn township_on_rows_follows_the_resident(db: TestDb) {
    use yilian_store::care::{self, NewEnrolment};
    use yilian_store::monitoring;
    use yilian_store::remote::{self, NewRequest};
    let s = &db.store;
    let ((county, town, _), a, b) = seed_two_townships(s).await;
    let mut tx = s.write().await.unwrap();
    let (doctor, team) = seed_team(&mut tx, town).await;
    for resident_id in [a, b] {
        care::insert_contract(
            &mut tx,
            &contract_for_2026(resident_id, team, doctor, vec![]),
        )
        .await
        .unwrap();
        care::insert_enrolment(
            &mut tx,
            &NewEnrolment {
                resident_id,
                program: "hypertension".into(),
                source: "screening".into(),
                enrolled_on: "2026-01-10".into(),
                factors: "{}".into(),
                risk: "low".into(),
                next_due: "2026-04-10".into(),
                assessment_on: None,
                plan: None,
            },
        )
        .await
        .unwrap();
        remote::insert(
            &mut tx,
            &NewRequest {
                resident_id,
                kind: "ecg".into(),
                urgency: "routine".into(),
                urgency_rank: 2,
                from_institution_id: town,
                to_institution_id: county,
                requested_by: None,
                question: "心电图会诊".into(),
                reason: None,
                file_id: None,
                file_ref: "PACS-1".into(),
                requested_at: "2026-02-01T09:00:00".into(),
                due_at: "2026-02-02T09:00:00".into(),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let period = first_four_months();
    // (resident, township) of each contract, enrolment and remote request.
    let kept = || async {
        let mut c = s.read().await.unwrap();
        let mut contracts: Vec<_> = monitoring::active_contracts(&mut c)
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.resident_id, Some(f.township)))
            .collect();
        contracts.sort();
        let mut chronic: Vec<_> = monitoring::chronic(&mut c, &period)
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.resident_id, f.township))
            .collect();
        chronic.sort();
        let mut requests: Vec<(i64, Option<String>)> = yilian_store::sql::Sql::new(
            "SELECT resident_id, township FROM remote_requests ORDER BY resident_id",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        requests.sort();
        (contracts, chronic, requests)
    };
    let both = |ta: &str, tb: &str| {
        let v = vec![(a, Some(ta.to_string())), (b, Some(tb.to_string()))];
        (v.clone(), v.clone(), v)
    };
    assert_eq!(kept().await, both("140599101", "140599102"));
    // Resident b moves to a village of the first township; a moves within it.
    let mut c = s.read().await.unwrap();
    let moved = resident("140599101201", (1961, 5, 2), 21, "李秀英", "14500002222");
    residents::update(&mut c, b, 1, &moved).await.unwrap();
    let within = resident("140599101202", (1958, 3, 9), 11, "王建国", "14500001111");
    residents::update(&mut c, a, 1, &within).await.unwrap();
    drop(c);
    assert_eq!(kept().await, both("140599101", "140599101"));
}

/// A batch of logged reads in which one entry cannot be written (injected
/// here by a trigger that refuses its username): the batch is retried entry
/// by entry, so that read alone gets the error and every other read is
/// logged, once, on an unbroken chain.
async fn access_log_batch_with_a_failing_entry_fails_only_that_read(db: TestDb) {
    use std::time::Duration;
    use yilian_store::records::{self, NewAccess};
    use yilian_store::sql::Sql;
    let s = &db.store;
    let mut tx = s.write().await.unwrap();
    let poison = match s.backend() {
        Backend::Sqlite => vec![
            "CREATE TRIGGER poison BEFORE INSERT ON access_log WHEN NEW.username = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poisoned entry'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.username = 'poison' THEN RAISE EXCEPTION 'poisoned entry'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER poison BEFORE INSERT ON access_log FOR EACH ROW EXECUTE FUNCTION poison()",
        ],
    };
    for sql in poison {
        Sql::new(sql).execute(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let entry = timeline_read;
    let spawn = |e: NewAccess| {
        let s = s.clone();
        tokio::spawn(async move { s.log_access(e).await })
    };
    // Hold the log's head so that the writer queues: a first batch takes
    // what has arrived, the rest — with the poisoned entry in the middle —
    // wait together for the next.
    let mut tx = s.write().await.unwrap();
    let own = records::append_access(&mut tx, &entry(0, "holder"))
        .await
        .unwrap();
    let mut good: Vec<_> = (1..=10).map(|n| spawn(entry(n, "reader"))).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    good.extend((11..=15).map(|n| spawn(entry(n, "reader"))));
    let bad = spawn(entry(99, "poison"));
    good.extend((16..=20).map(|n| spawn(entry(n, "reader"))));
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.commit().await.unwrap();
    let refused = bad.await.unwrap();
    assert!(
        refused.is_err(),
        "the poisoned read is not answered as logged"
    );
    let mut ids = vec![own];
    for t in good {
        ids.push(t.await.unwrap().expect("every other read is logged"));
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=21).collect::<Vec<i64>>(), "each once, no gap");
    let mut c = s.read().await.unwrap();
    let v = records::verify(&mut c).await.unwrap();
    assert_eq!((v.checked, v.broken), (21, None));
}

/// The generator's load takes the residents' plain indexes off and builds
/// them again afterwards: exactly those, never a unique one (identity number
/// and health card stay enforced during the load), and all of them back.
async fn plain_indexes_come_off_for_a_load_and_go_back_after(db: TestDb) {
    let s = &db.store;
    let mut tx = s.write().await.unwrap();
    let defs = bulk::drop_plain_indexes(&mut tx, "residents")
        .await
        .unwrap();
    for name in [
        "residents_phone",
        "residents_pinyin",
        "residents_region",
        "residents_household",
    ] {
        assert!(defs.iter().any(|d| d.contains(name)), "{name} in {defs:?}");
    }
    assert!(
        defs.iter()
            .all(|d| !d.to_uppercase().starts_with("CREATE UNIQUE")),
        "{defs:?}"
    );
    assert!(
        bulk::drop_plain_indexes(&mut tx, "residents")
            .await
            .unwrap()
            .is_empty()
    );
    bulk::create_indexes(&mut tx, &defs).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = s.write().await.unwrap();
    assert_eq!(
        bulk::drop_plain_indexes(&mut tx, "residents")
            .await
            .unwrap(),
        defs
    );
}
