//! The referral generator's contract: determinism, volumes by population,
//! urgency and outcome shares, response times, every trail replayed through
//! the domain state machine, open referrals only in the last weeks, redirects
//! after declines, downward and lateral referrals only after a completed
//! up-referral, and no generated referral refused by the submission rules.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use yilian_domain::chronic::program_for_icd10;
use yilian_domain::contract::default_end;
use yilian_domain::icd10::ReferralCatalog;
use yilian_domain::referral::{
    Direction, ReferralEvent, ReferralState, ResponseLimits, Side, Urgency, check_referral,
    first_block, priority_rank, response_deadline, transition,
};
use yilian_domain::resident::{KeyPopulation, key_populations};
use yilian_synth::{
    AppointmentStatus, CareRow, County, CountySpec, InstitutionKind, NO_SHOW_EXPIRE_DAYS,
    ReferralRow, ResidentRow, SLOT_MINUTES, Sex, UNANSWERED_EXPIRE_DAYS, care, county, residents,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn cutoff() -> NaiveDateTime {
    today().and_hms_opt(0, 0, 0).unwrap()
}

fn spec(seed: u64, n: usize) -> CountySpec {
    CountySpec::new(seed, n, today())
}

/// 60,000 rows of seed 42 with their care, generated once.
fn sample() -> &'static (County, Vec<(ResidentRow, CareRow)>) {
    static SAMPLE: std::sync::OnceLock<(County, Vec<(ResidentRow, CareRow)>)> =
        std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let s = spec(42, 60_000);
        let c = county(&s);
        let rows = care(&s, &c, residents(&s, &c)).collect();
        (c, rows)
    })
}

fn all() -> impl Iterator<Item = (&'static ResidentRow, &'static CareRow, &'static ReferralRow)> {
    sample()
        .1
        .iter()
        .flat_map(|(r, c)| c.referrals.iter().map(move |f| (r, c, f)))
}

fn kind_of(code: &str) -> InstitutionKind {
    sample()
        .0
        .institutions
        .iter()
        .find(|i| i.code == code)
        .map(|i| i.kind)
        .unwrap()
}

fn catalog() -> ReferralCatalog {
    let text = include_str!("../../../config/referral_catalog.toml");
    let c: ReferralCatalog = toml::from_str(text).unwrap();
    c.validate().unwrap();
    c
}

fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole.max(1) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn same_spec_same_referrals_independent_of_stream_position() {
    let s = spec(11, 8000);
    let c = county(&s);
    let a: Vec<_> = care(&s, &c, residents(&s, &c)).collect();
    let b: Vec<_> = care(&s, &c, residents(&s, &c)).collect();
    assert_eq!(a, b);
    assert!(a.iter().map(|(_, c)| c.referrals.len()).sum::<usize>() > 100);
    let rows: Vec<_> = residents(&s, &c).collect();
    let tail: Vec<_> = care(&s, &c, rows[5000..].iter().cloned()).collect();
    assert_eq!(&a[5000..], &tail[..]);
    // Duplicates never carry referrals; another seed gives others.
    assert!(
        a.iter()
            .filter(|(r, _)| r.duplicate_of.is_some())
            .all(|(_, c)| c.referrals.is_empty())
    );
    let t = spec(12, 8000);
    let d = county(&t);
    let other: Vec<_> = care(&t, &d, residents(&t, &d))
        .map(|(_, c)| c.referrals)
        .collect();
    assert_ne!(
        a.iter()
            .map(|(_, c)| c.referrals.clone())
            .collect::<Vec<_>>(),
        other
    );
}

#[test]
fn every_trail_replays_through_the_domain_state_machine() {
    let mut n = 0;
    for (_, _, f) in all() {
        n += 1;
        assert_eq!(f.events[0].event, ReferralEvent::Submit);
        assert_eq!(f.events[0].at, f.submitted_at);
        let mut state = ReferralState::Draft;
        let mut last: Option<NaiveDateTime> = None;
        for e in &f.events {
            assert_eq!(e.from, state, "{f:?}");
            let to = transition(state, e.event, e.side)
                .unwrap_or_else(|err| panic!("{err}: {:?}", f.events));
            assert_eq!(e.to, to);
            assert_eq!(e.side == Side::System, e.role.is_none());
            assert!(last.is_none_or(|l| e.at > l), "events in time order");
            assert!(e.at < cutoff(), "nothing after the cut-off");
            last = Some(e.at);
            state = to;
        }
        assert_eq!(state, f.state);
        // Reasons: a decline or cancellation says why.
        for e in &f.events {
            if matches!(e.event, ReferralEvent::Decline | ReferralEvent::Cancel) {
                assert!(!e.note.is_empty());
            }
        }
        assert_eq!(
            f.decline_reason.is_some(),
            f.state == ReferralState::Declined
        );
        assert_eq!(
            f.deadline_at,
            response_deadline(f.submitted_at, f.urgency, &ResponseLimits::default())
        );
    }
    assert!(n > 1500, "{n} referrals");
}

#[test]
fn volumes_follow_the_population() {
    // Episodes (up-referrals that are not redirects) per resident, by the
    // class that sets the resident's rate.
    let mut by: HashMap<&str, (usize, usize)> = HashMap::new();
    for (r, c) in sample().1.iter().filter(|(r, _)| r.duplicate_of.is_none()) {
        let tags = key_populations(r.birth_date, today(), &r.tags);
        let class = if r.sex == Sex::Female && tags.contains(&KeyPopulation::Pregnant) {
            "pregnant"
        } else if !c.enrolments.is_empty() {
            "chronic"
        } else if tags.contains(&KeyPopulation::Elderly65) {
            "65+"
        } else if tags.contains(&KeyPopulation::Child0To6) {
            "0-6"
        } else {
            "general"
        };
        let e = by.entry(class).or_default();
        e.0 += 1;
        e.1 += c
            .referrals
            .iter()
            .filter(|f| f.direction == Direction::Up && f.redirected_from.is_none())
            .count();
    }
    for (class, lo, hi) in [
        ("general", 0.011, 0.019),
        ("0-6", 0.018, 0.042),
        ("65+", 0.038, 0.062),
        ("chronic", 0.065, 0.095),
        ("pregnant", 0.05, 0.16),
    ] {
        let (n, k) = by[class];
        let rate = share(k, n);
        assert!((lo..=hi).contains(&rate), "{class}: {k} of {n} = {rate:.4}");
    }
}

#[test]
fn urgency_green_channel_and_where_they_go() {
    let ups: Vec<_> = all()
        .filter(|(_, _, f)| f.direction == Direction::Up)
        .collect();
    let count = |u| ups.iter().filter(|(_, _, f)| f.urgency == u).count();
    let routine = share(count(Urgency::Routine), ups.len());
    let urgent = share(count(Urgency::Urgent), ups.len());
    let emergency = share(count(Urgency::Emergency), ups.len());
    assert!((0.72..=0.88).contains(&routine), "routine {routine:.3}");
    assert!((0.09..=0.21).contains(&urgent), "urgent {urgent:.3}");
    assert!(
        (0.025..=0.08).contains(&emergency),
        "emergency {emergency:.3}"
    );
    let mut general = 0;
    for (_, _, f) in &ups {
        let from = kind_of(&f.from_code);
        let to = kind_of(&f.to_code);
        assert!(from.is_primary(), "up from a primary institution");
        assert!(!to.is_primary(), "up to a hospital");
        general += usize::from(to == InstitutionKind::CountyGeneralHospital);
        if let Some(g) = f.green_channel {
            assert_eq!(f.urgency, Urgency::Emergency);
            assert!(f.to_has_centre, "{} goes to its centre", g.as_str());
        } else if f.urgency == Urgency::Emergency {
            assert_eq!(
                f.icd10.as_str(),
                "I10",
                "only a hypertensive emergency has no centre"
            );
        }
        if f.icd10.as_str().starts_with('O') {
            assert!(
                f.green_channel.is_none()
                    || f.green_channel.unwrap().as_str() == "critical_maternal"
            );
        }
    }
    let general = share(general, ups.len());
    assert!(
        (0.70..=0.92).contains(&general),
        "county hospital {general:.3}"
    );
}

#[test]
fn outcomes_and_open_referrals_only_in_the_last_weeks() {
    let ups: Vec<_> = all()
        .filter(|(_, _, f)| f.direction == Direction::Up)
        .map(|(_, _, f)| f)
        .collect();
    let count = |s: ReferralState| ups.iter().filter(|f| f.state == s).count();
    let completed = share(count(ReferralState::Completed), ups.len());
    let declined = share(count(ReferralState::Declined), ups.len());
    let cancelled = share(count(ReferralState::Cancelled), ups.len());
    let expired = share(count(ReferralState::Expired), ups.len());
    let open = share(ups.iter().filter(|f| f.state.is_open()).count(), ups.len());
    assert!(
        (0.80..=0.90).contains(&completed),
        "completed {completed:.3}"
    );
    assert!((0.03..=0.07).contains(&declined), "declined {declined:.3}");
    assert!(
        (0.025..=0.06).contains(&cancelled),
        "cancelled {cancelled:.3}"
    );
    assert!((0.01..=0.04).contains(&expired), "expired {expired:.3}");
    assert!((0.008..=0.06).contains(&open), "open {open:.3}");
    let (mut open_n, mut recent) = (0, 0);
    for (_, _, f) in all() {
        if f.state.is_open() {
            open_n += 1;
            let age = cutoff() - f.submitted_at;
            assert!(age <= Duration::days(31), "open for {age:?}: {f:?}");
            recent += usize::from(age <= Duration::days(21));
            assert_ne!(f.state, ReferralState::Draft);
        }
    }
    assert!(
        share(recent, open_n) >= 0.8,
        "{recent} of {open_n} open in three weeks"
    );
    // Expiry follows the platform's limits.
    for (_, _, f) in all().filter(|(_, _, f)| f.state == ReferralState::Expired) {
        let last = f.events.last().unwrap();
        let before = &f.events[f.events.len() - 2];
        match before.to {
            ReferralState::Submitted => {
                assert_eq!(
                    last.at - f.submitted_at,
                    Duration::days(UNANSWERED_EXPIRE_DAYS)
                )
            }
            ReferralState::Scheduled => {
                let a = f.appointment.as_ref().unwrap();
                assert_eq!(last.at - a.starts_at, Duration::days(NO_SHOW_EXPIRE_DAYS));
                assert_eq!(a.status, AppointmentStatus::NoShow);
            }
            s => panic!("expired from {s:?}"),
        }
    }
}

#[test]
fn response_times_and_the_overdue_tail() {
    let limits = ResponseLimits::default();
    let mut by: HashMap<Urgency, Vec<f64>> = HashMap::new();
    let (mut answered, mut late) = (0, 0);
    for (_, _, f) in all().filter(|(_, _, f)| f.direction == Direction::Up) {
        let Some(r) = f.response() else { continue };
        let minutes = (r.at - f.submitted_at).num_seconds() as f64 / 60.0;
        by.entry(f.urgency).or_default().push(minutes);
        answered += 1;
        late += usize::from(r.at > f.deadline_at);
    }
    let emergency = median(by[&Urgency::Emergency].clone());
    let urgent = median(by[&Urgency::Urgent].clone());
    let routine = median(by[&Urgency::Routine].clone());
    assert!(
        (2.0..=15.0).contains(&emergency),
        "emergency median {emergency:.1} min"
    );
    assert!(
        (10.0..=60.0).contains(&urgent),
        "urgent median {urgent:.1} min"
    );
    assert!(
        (120.0..=24.0 * 60.0).contains(&routine),
        "routine median {routine:.0} min"
    );
    let mut r = by[&Urgency::Routine].clone();
    r.sort_by(f64::total_cmp);
    let p90 = r[r.len() * 9 / 10];
    assert!(p90 <= 2.5 * 24.0 * 60.0, "routine p90 {p90:.0} min");
    let late = share(late, answered);
    assert!(
        (0.02..=0.09).contains(&late),
        "{late:.3} answered after the deadline"
    );
    assert!(limits.routine_minutes > 0);
}

#[test]
fn appointments_follow_scheduling() {
    let mut n = 0;
    for (_, _, f) in all() {
        let scheduled = f.events.iter().any(|e| e.event == ReferralEvent::Schedule);
        assert_eq!(scheduled, f.appointment.is_some(), "{f:?}");
        let Some(a) = &f.appointment else { continue };
        n += 1;
        assert_eq!(a.ends_at - a.starts_at, Duration::minutes(SLOT_MINUTES));
        assert!(a.starts_at > a.booked_at);
        assert_eq!(a.reserved_for_referral, f.direction == Direction::Up);
        assert_eq!(
            chrono::Timelike::minute(&a.starts_at) % 15,
            0,
            "on the 15-minute grid"
        );
        let last = f.events.last().unwrap();
        let expected = match (f.state, last.event) {
            (ReferralState::Arrived | ReferralState::Completed, _) => AppointmentStatus::Attended,
            (ReferralState::Cancelled, _) => AppointmentStatus::Cancelled,
            (ReferralState::Expired, _) => AppointmentStatus::NoShow,
            (ReferralState::Scheduled, _) => AppointmentStatus::Booked,
            (s, _) => panic!("appointment in state {s:?}"),
        };
        assert_eq!(a.status, expected);
        if let Some(arrive) = f.events.iter().find(|e| e.event == ReferralEvent::Arrive) {
            assert!((arrive.at - a.starts_at).num_minutes().abs() <= 20);
        }
    }
    assert!(n > 1000);
    // Scheduled now: the appointment lies ahead or just passed.
    assert!(
        all()
            .filter(|(_, _, f)| f.state == ReferralState::Scheduled)
            .any(|(_, _, f)| f.appointment.as_ref().unwrap().starts_at > cutoff())
    );
}

#[test]
fn redirects_follow_declines() {
    let (mut declined, mut redirected) = (0, 0);
    for (_, c, f) in all() {
        if f.state == ReferralState::Declined && f.direction == Direction::Up {
            declined += 1;
        }
        let Some(i) = f.redirected_from else { continue };
        redirected += 1;
        let old = &c.referrals[i];
        assert_eq!(old.state, ReferralState::Declined);
        assert_eq!(old.icd10, f.icd10);
        assert_eq!(old.from_code, f.from_code);
        assert_ne!(old.to_code, f.to_code);
        assert!(f.submitted_at > old.events.last().unwrap().at);
    }
    let r = share(redirected, declined);
    assert!(
        (0.3..=0.75).contains(&r),
        "{redirected} of {declined} redirected"
    );
}

#[test]
fn downward_and_lateral_only_after_a_completed_up_referral() {
    let general = sample()
        .0
        .institutions
        .iter()
        .find(|i| i.kind == InstitutionKind::CountyGeneralHospital)
        .unwrap()
        .code
        .clone();
    let (mut completed_general, mut down, mut lateral, mut total) = (0, 0, 0, 0);
    let mut handed_over = 0;
    for (_, c, f) in all() {
        total += 1;
        if f.direction == Direction::Up
            && f.state == ReferralState::Completed
            && f.to_code == general
        {
            completed_general += 1;
        }
        if f.direction == Direction::Up {
            assert!(f.follows.is_none());
            continue;
        }
        let up = &c.referrals[f.follows.expect("follows an up-referral")];
        assert_eq!(up.direction, Direction::Up);
        assert_eq!(up.state, ReferralState::Completed);
        assert_eq!(up.to_code, general);
        assert_eq!(f.from_code, general);
        let done = up.events.last().unwrap().at;
        assert!(f.submitted_at > done + Duration::days(1));
        match f.direction {
            Direction::Down => {
                down += 1;
                assert!(kind_of(&f.to_code).is_primary());
                assert!(!f.summary.is_empty() && !f.follow_up_plan.is_empty());
                assert!(f.submitted_at <= done + Duration::days(15));
                // Accepted by the primary side whenever it was answered.
                if let Some(r) = f.response() {
                    assert_eq!(r.event, ReferralEvent::Accept);
                }
                handed_over += usize::from(program_for_icd10(f.icd10.category()).is_some());
            }
            Direction::Lateral => {
                lateral += 1;
                assert_eq!(kind_of(&f.to_code), InstitutionKind::CountyTcmHospital);
            }
            Direction::Up => unreachable!(),
        }
    }
    let d = share(down, completed_general);
    assert!(
        (0.28..=0.40).contains(&d),
        "{down} of {completed_general} completed"
    );
    let l = share(lateral, total);
    assert!((0.01..=0.05).contains(&l), "{lateral} of {total} lateral");
    assert!(
        handed_over > 0,
        "some downward referrals hand over a programme"
    );
}

#[test]
fn no_generated_referral_is_refused_by_the_rules() {
    let catalog = catalog();
    let mut justified = 0;
    for (r, c, f) in all() {
        let findings = check_referral(&f.facts(&catalog));
        if let Err(e) = first_block(&findings) {
            panic!("{} {} → {}: {e:?}", f.icd10, f.diagnosis, f.to_code);
        }
        justified += usize::from(f.justification.is_some());
        // Priority and contract as the domain decides them.
        assert_eq!(f.priority, priority_rank(f.urgency, f.contracted));
        let day = f.submitted_at.date();
        let in_force = c
            .contract
            .as_ref()
            .is_some_and(|k| k.start <= day && day <= default_end(k.start));
        assert_eq!(f.contracted, in_force, "{}", r.key);
        assert_eq!(
            f.team_code.as_ref(),
            c.contract
                .as_ref()
                .map(|k| &k.team_code)
                .filter(|_| in_force)
        );
    }
    assert!(justified > 0);
}

#[test]
fn one_submission_time_per_resident() {
    for (_, c) in &sample().1 {
        let mut times: Vec<_> = c.referrals.iter().map(|f| f.submitted_at).collect();
        times.sort();
        times.dedup();
        assert_eq!(times.len(), c.referrals.len());
    }
}

/// Prints the shares:
/// `cargo test -p yilian-synth --release --test referrals -- --ignored --nocapture`.
#[test]
#[ignore = "diagnostic"]
fn print_shares() {
    let mut by_state: HashMap<(Direction, ReferralState), usize> = HashMap::new();
    let mut by_urgency: HashMap<Urgency, usize> = HashMap::new();
    let mut overdue = 0;
    for (_, _, f) in all() {
        *by_state.entry((f.direction, f.state)).or_default() += 1;
        if f.direction == Direction::Up {
            *by_urgency.entry(f.urgency).or_default() += 1;
        }
        overdue += usize::from(f.state == ReferralState::Submitted && f.deadline_at < cutoff());
    }
    let mut v: Vec<_> = by_state.into_iter().collect();
    v.sort_by_key(|((d, s), _)| (d.as_str(), s.as_str()));
    for ((d, s), n) in v {
        println!("{d} {s}: {n}");
    }
    println!("{by_urgency:?}; overdue now {overdue}");
}

#[test]
#[ignore = "diagnostic"]
fn print_debug() {
    let mut by_code: HashMap<String, [usize; 3]> = HashMap::new();
    for (_, _, f) in all().filter(|(_, _, f)| f.direction == Direction::Up) {
        let e = by_code.entry(f.icd10.to_string()).or_default();
        e[match f.urgency {
            Urgency::Routine => 0,
            Urgency::Urgent => 1,
            Urgency::Emergency => 2,
        }] += 1;
    }
    let mut v: Vec<_> = by_code.into_iter().collect();
    v.sort();
    println!("{v:?}");
    for (_, _, f) in all()
        .filter(|(_, _, f)| f.state == ReferralState::Accepted)
        .take(3)
    {
        println!(
            "ACC {} {:?} {:?}",
            f.urgency,
            f.submitted_at,
            f.events.iter().map(|e| (e.event, e.at)).collect::<Vec<_>>()
        );
    }
}
