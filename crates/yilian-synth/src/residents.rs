//! The resident stream: households village by village, with deliberate
//! duplicate registrations emitted shortly after their originals.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use yilian_domain::id_number::Sex;

use crate::county::phone;
use crate::names::{NameGen, NameParts, homophone};
use crate::rng::{Stage, Weighted, chance, stage_rng};
use crate::tables::{AGE_GROUPS_2020, COUNTY_CODE, OTHER_ID_PREFIXES};
use crate::{County, CountySpec, Insurance, KeyPopulation, RegionLevel, ResidentRow};

/// The oldest age generated.
const MAX_AGE: usize = 104;
/// Household sizes 1–6, weights in % (2020 census: 2.6 persons per household).
const HOUSEHOLD_SIZES: [u64; 6] = [22, 31, 21, 14, 8, 4];

/// A village as the stream needs it.
#[derive(Debug, Clone)]
struct VillageCtx {
    code: String,
    /// `<township><village>`, the start of every address.
    place: String,
    /// A residents' committee (社区) at the county seat.
    urban: bool,
    /// Index of the nearest other village of the same township (itself if none).
    neighbour: usize,
    population: u64,
    /// Households created so far.
    households: u32,
}

/// Fast hasher for the identity-number registry's integer keys.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = crate::rng::mix64(n);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Used sequence numbers per (address code, birth date): 1000 bits each.
/// Guarantees every identity number, original or duplicate, is unique. Its
/// size is bounded by the number of (code, date) pairs, not by residents: a
/// dense table per address code over the generated birth dates (zeroed
/// lazily by the allocator, so only the dates in use take memory), and a hash
/// map for the dates outside it that duplicates' swapped digits may produce.
#[derive(Debug, Default)]
struct IdRegistry {
    /// First day (from CE) of the dense tables.
    dense_from: i32,
    dense: Vec<Vec<[u64; 16]>>,
    sparse: HashMap<u64, [u64; 16], BuildHasherDefault<KeyHasher>>,
}

impl IdRegistry {
    /// A registry whose dense tables cover `from..=to` for `prefixes` codes.
    fn new(prefixes: usize, from: i32, to: i32) -> Self {
        let len = usize::try_from(to - from + 1).unwrap_or(0);
        let dense = (0..prefixes).map(|_| vec![[0u64; 16]; len]).collect();
        Self {
            dense_from: from,
            dense,
            sparse: HashMap::default(),
        }
    }

    fn dense_index(&self, day: i32) -> Option<usize> {
        let i = usize::try_from(day - self.dense_from).ok()?;
        (i < self.dense.first().map_or(0, Vec::len)).then_some(i)
    }

    fn bits(&self, prefix: usize, day: i32) -> Option<&[u64; 16]> {
        match self.dense_index(day) {
            Some(i) => Some(&self.dense[prefix][i]),
            None => self
                .sparse
                .get(&(((prefix as u64) << 32) | u64::from(day as u32))),
        }
    }

    fn bits_mut(&mut self, prefix: usize, day: i32) -> &mut [u64; 16] {
        match self.dense_index(day) {
            Some(i) => &mut self.dense[prefix][i],
            None => self
                .sparse
                .entry(((prefix as u64) << 32) | u64::from(day as u32))
                .or_insert([0; 16]),
        }
    }

    fn is_free(&self, prefix: usize, day: i32, seq: u16) -> bool {
        seq != 0 && self.bits(prefix, day).is_none_or(|b| !test_bit(b, seq))
    }

    fn take(&mut self, prefix: usize, day: i32, seq: u16) {
        let bits = self.bits_mut(prefix, day);
        bits[usize::from(seq / 64)] |= 1 << (seq % 64);
    }

    /// A free sequence number of the given parity (1 = male), taken; `None`
    /// if all 499–500 of them are used for this code and date.
    fn alloc(&mut self, rng: &mut ChaCha8Rng, prefix: usize, day: i32, parity: u16) -> Option<u16> {
        let bits = self.bits_mut(prefix, day);
        let mut try_take = |seq: u16| {
            let free = seq != 0 && !test_bit(bits, seq);
            if free {
                bits[usize::from(seq / 64)] |= 1 << (seq % 64);
            }
            free
        };
        // Random probing first, then a scan.
        for _ in 0..6 {
            let seq = rng.random_range(0..500u16) * 2 + parity;
            if try_take(seq) {
                return Some(seq);
            }
        }
        let start: u16 = rng.random_range(0..500);
        (0..500)
            .map(|i| ((start + i) % 500) * 2 + parity)
            .find(|seq| try_take(*seq))
    }
}

fn test_bit(bits: &[u64; 16], seq: u16) -> bool {
    bits[usize::from(seq / 64)] & (1 << (seq % 64)) != 0
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: [u8; 11] = *b"10X98765432";

/// The 18-character identity number (GB 11643) of the parts; the same string
/// as `IdNumber::build(prefix, birth, seq)`, without its allocations.
fn id_string(prefix: &str, birth: NaiveDate, seq: u16) -> String {
    let mut b = [0u8; 18];
    b[..6].copy_from_slice(prefix.as_bytes());
    let digits = |out: &mut [u8], mut v: u32| {
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut b[6..10], birth.year() as u32);
    digits(&mut b[10..12], birth.month());
    digits(&mut b[12..14], birth.day());
    digits(&mut b[14..17], u32::from(seq));
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    b[17] = ID_CHECK[(sum % 11) as usize];
    String::from_utf8(b.to_vec()).unwrap_or_default()
}

/// A household member's place in the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kin {
    /// Carries the household surname (head, children, grandchildren, grandfather).
    Blood,
    /// Married in: own surname.
    Spouse,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    sex: Sex,
    age: i32,
    kin: Kin,
}

/// What a duplicate needs of its original, beyond the row itself.
#[derive(Debug, Clone, Copy)]
struct Origin {
    prefix: usize,
    day: i32,
    seq: u16,
    name: NameParts,
    village: usize,
}

/// A duplicate waiting for its slot in the stream.
#[derive(Debug)]
struct Pending {
    due: u64,
    row: ResidentRow,
}

/// Prevalence by age: linear between the points, flat beyond them.
fn by_age(points: &[(i32, f64)], age: i32) -> f64 {
    if age < points[0].0 {
        return 0.0;
    }
    for w in points.windows(2) {
        let ((a0, p0), (a1, p1)) = (w[0], w[1]);
        if age < a1 {
            return p0 + (p1 - p0) * f64::from(age - a0) / f64::from(a1 - a0);
        }
    }
    points[points.len() - 1].1
}

/// Recorded hypertension (高血压) by age: adults ≈ 27 %.
const HYPERTENSION: &[(i32, f64)] = &[
    (18, 0.03),
    (30, 0.065),
    (40, 0.13),
    (50, 0.28),
    (60, 0.44),
    (70, 0.58),
    (80, 0.64),
];
/// Recorded type 2 diabetes by age: adults ≈ 12 %.
const DIABETES: &[(i32, f64)] = &[
    (18, 0.005),
    (30, 0.02),
    (40, 0.055),
    (50, 0.135),
    (60, 0.21),
    (70, 0.26),
    (85, 0.24),
];
/// Disability by age: ≈ 6 % overall.
const DISABLED: &[(i32, f64)] = &[
    (0, 0.012),
    (18, 0.03),
    (45, 0.05),
    (60, 0.09),
    (75, 0.16),
    (85, 0.24),
];

/// The resident stream of [`crate::residents`].
#[derive(Debug)]
pub(crate) struct Residents {
    rng: ChaCha8Rng,
    names: NameGen,
    /// Age weights by single year, 0..=MAX_AGE.
    ages: Weighted,
    sizes: Weighted,
    /// Address codes: the county's own first.
    prefixes: Vec<&'static str>,
    prefix_weights: Weighted,
    /// Per age: first possible birth day (days from CE) and how many days.
    birth_spans: Vec<(i32, u32)>,
    today: NaiveDate,
    today_day: i32,
    villages: Vec<VillageCtx>,
    ids: IdRegistry,
    /// Chance that an original gets a duplicate: rate / (1 − rate).
    dup_chance: f64,
    total: u64,
    emitted: u64,
    next_key: u64,
    village: usize,
    left_in_village: u64,
    households_made: u64,
    household: VecDeque<ResidentRow>,
    pending: VecDeque<Pending>,
    members: Vec<Member>,
}

/// The date `n` years before `d` (29 February becomes 28 February).
fn years_before(d: NaiveDate, n: i32) -> NaiveDate {
    let y = d.year() - n;
    d.with_year(y)
        .or_else(|| NaiveDate::from_ymd_opt(y, 2, 28))
        .unwrap_or(d)
}

impl Residents {
    pub(crate) fn new(spec: &CountySpec, county: &County) -> Self {
        let villages = village_contexts(county);
        let today = spec.today;
        let birth_spans = (0..=MAX_AGE as i32)
            .map(|a| {
                let latest = years_before(today, a).num_days_from_ce();
                let earliest = years_before(today, a + 1).num_days_from_ce() + 1;
                (earliest, (latest - earliest + 1).max(1) as u32)
            })
            .collect();
        let ages =
            Weighted::new((0..=MAX_AGE).map(|a| u64::from(AGE_GROUPS_2020[(a / 5).min(20)])));
        let own = 10_000 - OTHER_ID_PREFIXES.iter().map(|(_, w)| w).sum::<u32>();
        let prefixes = std::iter::once(COUNTY_CODE)
            .chain(OTHER_ID_PREFIXES.iter().map(|(p, _)| *p))
            .collect();
        let prefix_weights = Weighted::new(
            std::iter::once(own)
                .chain(OTHER_ID_PREFIXES.iter().map(|(_, w)| *w))
                .map(u64::from),
        );
        let rate = spec.duplicate_rate.clamp(0.0, 0.5);
        let first = villages.first().map(|v| v.population).unwrap_or(0);
        Self {
            rng: stage_rng(spec.seed, Stage::Residents),
            names: NameGen::default(),
            ages,
            sizes: Weighted::new(HOUSEHOLD_SIZES),
            prefixes,
            prefix_weights,
            birth_spans,
            today,
            today_day: today.num_days_from_ce(),
            villages,
            ids: IdRegistry::new(
                OTHER_ID_PREFIXES.len() + 1,
                years_before(today, MAX_AGE as i32 + 1).num_days_from_ce(),
                today.num_days_from_ce(),
            ),
            dup_chance: rate / (1.0 - rate),
            total: spec.residents as u64,
            emitted: 0,
            next_key: 0,
            village: 0,
            left_in_village: first,
            households_made: 0,
            household: VecDeque::with_capacity(6),
            pending: VecDeque::new(),
            members: Vec::with_capacity(6),
        }
    }

    fn age_in(&mut self, lo: i32, hi: i32) -> i32 {
        self.ages
            .sample_in(&mut self.rng, lo.max(0) as usize, hi.max(0) as usize) as i32
    }

    fn push(&mut self, sex: Sex, age: i32, kin: Kin) {
        self.members.push(Member {
            sex,
            age: age.clamp(0, MAX_AGE as i32),
            kin,
        });
    }

    /// A couple: a man aged `h` and his wife about two years younger.
    fn couple(&mut self, h: i32) -> i32 {
        let w = (h + self.rng.random_range(-6..=3)).clamp(18, MAX_AGE as i32);
        self.push(Sex::Male, h, Kin::Blood);
        self.push(Sex::Female, w, Kin::Spouse);
        w
    }

    fn random_sex(&mut self, male: f64) -> Sex {
        if chance(&mut self.rng, male) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// A child of a mother aged `m` (born when she was 21–36, or as late as possible).
    fn child(&mut self, m: i32) {
        let gap = self.rng.random_range(21..=36);
        let age = if m >= gap {
            m - gap
        } else {
            self.rng.random_range(0..=(m - 20).max(0))
        };
        let sex = self.random_sex(0.54);
        self.push(sex, age, Kin::Blood);
    }

    /// The age of a parent of someone aged `h` (24–34 years older, or a
    /// census draw among the very old rather than piling up at the oldest age).
    fn elder_of(&mut self, h: i32) -> i32 {
        let age = h + self.rng.random_range(24..=34);
        if age > 96 { self.age_in(80, 100) } else { age }
    }

    /// A parent of the head aged `h`; grandmothers outlive grandfathers.
    fn grandparent(&mut self, h: i32) {
        let age = self.elder_of(h);
        let sex = self.random_sex(0.45);
        let kin = if sex == Sex::Male {
            Kin::Blood
        } else {
            Kin::Spouse
        };
        self.push(sex, age, kin);
    }

    fn grandchild(&mut self) {
        let age = self.age_in(0, 14);
        let sex = self.random_sex(0.54);
        self.push(sex, age, Kin::Blood);
    }

    /// Fills `members` with a household of `size` people: couples, children,
    /// grandparents and left-behind grandchildren (留守儿童) in proportions
    /// that reproduce the census age structure.
    fn compose(&mut self, size: usize) {
        self.members.clear();
        let r: f64 = self.rng.random();
        match size {
            1 => {
                let age = if r < 0.85 {
                    self.age_in(18, 104)
                } else {
                    self.age_in(60, 104)
                };
                let sex = self.random_sex(if age >= 65 { 0.4 } else { 0.6 });
                self.push(sex, age, Kin::Blood);
            }
            2 if r < 0.36 => {
                let h = self.age_in(50, 92);
                self.couple(h);
            }
            2 if r < 0.60 => {
                let h = self.age_in(22, 44);
                self.couple(h);
            }
            2 if r < 0.90 => {
                let p = self.age_in(38, 70);
                let sex = self.random_sex(0.5);
                self.push(sex, p, Kin::Blood);
                self.child(p);
            }
            2 => {
                let g = self.age_in(55, 80);
                let sex = self.random_sex(0.4);
                self.push(sex, g, Kin::Blood);
                self.grandchild();
            }
            3 if r < 0.70 => {
                let h = self.age_in(30, 58);
                let w = self.couple(h);
                self.child(w);
            }
            3 if r < 0.82 => {
                let h = self.age_in(35, 62);
                self.couple(h);
                self.grandparent(h);
            }
            3 => {
                let h = self.age_in(55, 80);
                self.couple(h);
                self.grandchild();
            }
            4 if r < 0.5 => {
                let h = self.age_in(29, 55);
                let w = self.couple(h);
                self.child(w);
                self.child(w);
            }
            4 if r < 0.8 => {
                let h = self.age_in(26, 55);
                let w = self.couple(h);
                self.child(w);
                self.grandparent(h);
            }
            4 => {
                let h = self.age_in(55, 80);
                self.couple(h);
                self.grandchild();
                self.grandchild();
            }
            5 if r < 0.45 => {
                let h = self.age_in(28, 55);
                let w = self.couple(h);
                self.child(w);
                self.child(w);
                self.grandparent(h);
            }
            5 if r < 0.75 => {
                let h = self.age_in(28, 55);
                let w = self.couple(h);
                self.child(w);
                let g = self.elder_of(h);
                self.couple(g);
            }
            5 => {
                let h = self.age_in(28, 50);
                let w = self.couple(h);
                for _ in 0..3 {
                    self.child(w);
                }
            }
            _ if r < 0.6 => {
                let h = self.age_in(28, 55);
                let w = self.couple(h);
                self.child(w);
                self.child(w);
                let g = self.elder_of(h);
                self.couple(g);
            }
            _ => {
                let h = self.age_in(28, 50);
                let w = self.couple(h);
                for _ in 0..3 {
                    self.child(w);
                }
                self.grandparent(h);
            }
        }
        self.members.truncate(size);
    }

    /// A birth date giving `age` on today.
    fn birth_day(&mut self, age: i32) -> i32 {
        let (first, span) = self.birth_spans[age as usize];
        first + self.rng.random_range(0..span) as i32
    }

    /// Allocates a unique sequence for (prefix, day, sex), moving the birth
    /// day earlier in the rare case that the day is full. Returns (day, seq).
    fn allocate_id(&mut self, prefix: usize, mut day: i32, sex: Sex) -> (i32, u16) {
        let parity = u16::from(sex == Sex::Male);
        loop {
            if let Some(seq) = self.ids.alloc(&mut self.rng, prefix, day, parity) {
                return (day, seq);
            }
            day -= 1;
        }
    }

    fn insurance(&mut self, age: i32, urban: bool) -> Insurance {
        let (employee, none) = match age {
            ..18 => (0.0, 0.0),
            18..60 if urban => (0.62, 0.04),
            18..60 => (0.30, 0.05),
            _ if urban => (0.45, 0.0),
            _ => (0.15, 0.0),
        };
        let r: f64 = self.rng.random();
        if r < employee {
            Insurance::Employee
        } else if r < employee + none {
            Insurance::Uninsured
        } else {
            Insurance::Resident
        }
    }

    fn tags(&mut self, age: i32, sex: Sex, poor: bool) -> Vec<KeyPopulation> {
        let mut tags = Vec::new();
        let rng = &mut self.rng;
        if chance(rng, by_age(HYPERTENSION, age)) {
            tags.push(KeyPopulation::Hypertension);
        }
        if chance(rng, by_age(DIABETES, age)) {
            tags.push(KeyPopulation::Diabetes);
        }
        if age >= 15 && chance(rng, 0.006) {
            tags.push(KeyPopulation::SevereMental);
        }
        let tb = if sex == Sex::Male { 0.0007 } else { 0.0003 } * if age >= 60 { 1.8 } else { 1.0 };
        if chance(rng, tb) {
            tags.push(KeyPopulation::Tuberculosis);
        }
        let pregnant = match age {
            20..40 => 0.07,
            18..20 => 0.02,
            40..45 => 0.015,
            _ => 0.0,
        };
        if sex == Sex::Female && chance(rng, pregnant) {
            tags.push(KeyPopulation::Pregnant);
        }
        if chance(rng, by_age(DISABLED, age)) {
            tags.push(KeyPopulation::Disabled);
        }
        if poor {
            tags.push(KeyPopulation::PovertyRegistered);
        }
        tags
    }

    /// Creates the next household of `size` in the current village into
    /// `household`, with keys, and schedules duplicates of its members.
    fn make_household(&mut self, size: usize) {
        self.compose(size);
        let vi = self.village;
        let (urban, serial) = {
            let v = &mut self.villages[vi];
            v.households += 1;
            (v.urban, v.households)
        };
        let v = &self.villages[vi];
        let household_code = format!("H{}{serial:04}", v.code);
        let address = if urban {
            let s = serial - 1;
            format!(
                "{}{}号楼{}单元{}0{}室",
                v.place,
                s / 36 + 1,
                (s / 12) % 3 + 1,
                (s / 2) % 6 + 1,
                s % 2 + 1
            )
        } else {
            format!("{}{serial}号", v.place)
        };
        let region_code = v.code.clone();
        let surname = self.names.surname(&mut self.rng);
        let poor = chance(&mut self.rng, if urban { 0.01 } else { 0.035 });
        let mut contact: Option<String> = None;
        let mut origins: [Option<Origin>; 6] = [None; 6];
        for (i, slot) in origins.iter_mut().enumerate().take(self.members.len()) {
            let m = self.members[i];
            let mut day = self.birth_day(m.age);
            let prefix = self.prefix_weights.sample(&mut self.rng);
            let seq;
            (day, seq) = self.allocate_id(prefix, day, m.sex);
            let birth = NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(self.today);
            let own_surname = match m.kin {
                Kin::Blood => surname,
                Kin::Spouse => self.names.surname(&mut self.rng),
            };
            let name = self
                .names
                .with_surname(&mut self.rng, own_surname, m.sex, birth.year());
            let own_phone = (16..75).contains(&m.age) && chance(&mut self.rng, 0.93);
            let phone = match (&contact, own_phone) {
                (Some(c), false) => c.clone(),
                _ => phone(&mut self.rng),
            };
            if contact.is_none() && (16..75).contains(&m.age) {
                contact = Some(phone.clone());
            }
            let insurance = self.insurance(m.age, urban);
            let tags = self.tags(m.age, m.sex, poor);
            *slot = Some(Origin {
                prefix,
                day,
                seq,
                name,
                village: vi,
            });
            self.household.push_back(ResidentRow {
                key: self.next_key,
                id_number: id_string(self.prefixes[prefix], birth, seq),
                name: name.to_name(),
                sex: m.sex,
                birth_date: birth,
                phone,
                region_code: region_code.clone(),
                address: address.clone(),
                household_code: household_code.clone(),
                insurance,
                tags,
                duplicate_of: None,
            });
            self.next_key += 1;
        }
        self.households_made += 1;
        for (i, origin) in origins.iter().enumerate() {
            let Some(origin) = origin else { break };
            if chance(&mut self.rng, self.dup_chance) {
                let original = self.household[i].clone();
                let row = self.duplicate(&original, origin, i);
                let due = self.households_made + self.rng.random_range(0..=2);
                self.pending.push_back(Pending { due, row });
            }
        }
    }

    /// A second registration of `original`, as another clinic typed it.
    fn duplicate(&mut self, original: &ResidentRow, o: &Origin, member: usize) -> ResidentRow {
        let (id_number, birth_date) = self.duplicate_id(o, original.sex);
        let rng = &mut self.rng;
        let mut name = o.name;
        let r: f64 = rng.random();
        if r < 0.22 {
            // 同音字: one given-name character replaced by a homophone.
            let i = rng.random_range(0..usize::from(name.given_len));
            if let Some(h) = homophone(rng, name.given[i]) {
                name.given[i] = h;
            }
        } else if r < 0.28 && name.given_len == 2 {
            // A dropped character.
            if chance(rng, 0.5) {
                name.given[0] = name.given[1];
            }
            name.given_len = 1;
        } else if r < 0.33 && name.given_len == 1 {
            // An extra character.
            name.given[1] = self.names.given_char(rng, original.sex, birth_date.year());
            name.given_len = 2;
        }
        let r: f64 = rng.random();
        let phone = if r < 0.2 {
            // One mistyped digit after the 14x prefix.
            let mut b = original.phone.clone().into_bytes();
            let pos = rng.random_range(3..b.len());
            let old = b[pos] - b'0';
            b[pos] = b'0' + (old + rng.random_range(1..10)) % 10;
            String::from_utf8(b).unwrap_or_else(|_| original.phone.clone())
        } else if r < 0.4 {
            // Another household member's phone, or a new one.
            self.household
                .iter()
                .enumerate()
                .find(|(j, row)| *j != member && row.phone != original.phone)
                .map(|(_, row)| row.phone.clone())
                .unwrap_or_else(|| phone(rng))
        } else {
            original.phone.clone()
        };
        let (region_code, address) = if chance(rng, 0.15) {
            let n = &self.villages[self.villages[o.village].neighbour];
            let a = if n.urban {
                format!(
                    "{}{}号楼{}单元{}0{}室",
                    n.place,
                    rng.random_range(1..=20),
                    rng.random_range(1..=3),
                    rng.random_range(1..=6),
                    rng.random_range(1..=2)
                )
            } else {
                format!("{}{}号", n.place, rng.random_range(1..=200))
            };
            (n.code.clone(), a)
        } else {
            (original.region_code.clone(), original.address.clone())
        };
        let tags = original
            .tags
            .iter()
            .copied()
            .filter(|_| chance(rng, 0.75))
            .collect();
        ResidentRow {
            key: 0,
            id_number,
            name: name.to_name(),
            sex: original.sex,
            birth_date,
            phone,
            region_code,
            address,
            household_code: original.household_code.clone(),
            insurance: original.insurance,
            tags,
            duplicate_of: Some(original.key),
        }
    }

    /// A different, valid and unique identity number for a duplicate: one
    /// sequence digit mistyped, or two adjacent birth-date digits swapped
    /// (when that still gives a real past date), check character recomputed.
    fn duplicate_id(&mut self, o: &Origin, sex: Sex) -> (String, NaiveDate) {
        let prefix = self.prefixes[o.prefix];
        let birth = NaiveDate::from_num_days_from_ce_opt(o.day).unwrap_or(self.today);
        let date_first = chance(&mut self.rng, 0.3);
        for attempt in 0..2 {
            if (attempt == 0) != date_first {
                // Sequence typo.
                for _ in 0..6 {
                    let pos = self.rng.random_range(0..3u32);
                    let unit = 10u16.pow(2 - pos);
                    let old = (o.seq / unit) % 10;
                    let new = if pos == 2 {
                        (old + 2 * self.rng.random_range(1..5u16)) % 10
                    } else {
                        (old + self.rng.random_range(1..10u16)) % 10
                    };
                    let seq = o.seq - old * unit + new * unit;
                    if self.ids.is_free(o.prefix, o.day, seq) {
                        self.ids.take(o.prefix, o.day, seq);
                        return (id_string(prefix, birth, seq), birth);
                    }
                }
            } else if let Some(day) = self.swapped_date(o) {
                self.ids.take(o.prefix, day, o.seq);
                let date = NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(birth);
                return (id_string(prefix, date, o.seq), date);
            }
        }
        let (day, seq) = self.allocate_id(o.prefix, o.day, sex);
        let date = NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(birth);
        (id_string(prefix, date, seq), date)
    }

    /// A birth date with two adjacent digits of `YYYYMMDD` swapped that is a
    /// real date between 1900 and today and free for the original's sequence.
    fn swapped_date(&mut self, o: &Origin) -> Option<i32> {
        let birth = NaiveDate::from_num_days_from_ce_opt(o.day)?;
        let text = birth.year() as u32 * 10_000 + birth.month() * 100 + birth.day();
        let mut digits = [0u8; 8];
        let mut v = text;
        for d in digits.iter_mut().rev() {
            *d = (v % 10) as u8;
            v /= 10;
        }
        let start = self.rng.random_range(0..7);
        for k in 0..7 {
            let i = (start + k) % 7;
            if digits[i] == digits[i + 1] {
                continue;
            }
            let mut d = digits;
            d.swap(i, i + 1);
            let num = |s: &[u8]| s.iter().fold(0u32, |acc, x| acc * 10 + u32::from(*x));
            let Some(date) =
                NaiveDate::from_ymd_opt(num(&d[..4]) as i32, num(&d[4..6]), num(&d[6..]))
            else {
                continue;
            };
            let day = date.num_days_from_ce();
            if date.year() >= 1900
                && day <= self.today_day
                && self.ids.is_free(o.prefix, day, o.seq)
            {
                return Some(day);
            }
        }
        None
    }
}

impl Iterator for Residents {
    type Item = ResidentRow;

    fn next(&mut self) -> Option<ResidentRow> {
        if self.emitted >= self.total {
            return None;
        }
        if let Some(row) = self.household.pop_front() {
            self.emitted += 1;
            return Some(row);
        }
        while self.left_in_village == 0 {
            self.village += 1;
            self.left_in_village = self.villages.get(self.village)?.population;
        }
        if let Some(i) = self
            .pending
            .iter()
            .position(|p| p.due <= self.households_made)
        {
            let mut row = self.pending.remove(i)?.row;
            row.key = self.next_key;
            self.next_key += 1;
            self.left_in_village -= 1;
            self.emitted += 1;
            return Some(row);
        }
        let size = (self.sizes.sample(&mut self.rng) + 1).min(self.left_in_village as usize);
        self.make_household(size);
        self.left_in_village -= size as u64;
        let row = self.household.pop_front()?;
        self.emitted += 1;
        Some(row)
    }
}

/// The county's villages with their addresses and nearest neighbours.
fn village_contexts(county: &County) -> Vec<VillageCtx> {
    let townships: HashMap<&str, &str> = county
        .townships()
        .map(|t| (t.code.as_str(), t.name.as_str()))
        .collect();
    let rows: Vec<&crate::RegionRow> = county
        .regions
        .iter()
        .filter(|r| r.level == RegionLevel::Village)
        .collect();
    let mut out: Vec<VillageCtx> = rows
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let parent = v.parent_code.as_deref().unwrap_or("");
            VillageCtx {
                code: v.code.clone(),
                place: format!("{}{}", townships.get(parent).copied().unwrap_or(""), v.name),
                urban: v.name.ends_with("社区"),
                neighbour: i,
                population: v.population.unwrap_or(0).max(0) as u64,
                households: 0,
            }
        })
        .collect();
    for (i, v) in rows.iter().enumerate() {
        let pos = (v.lon.unwrap_or(0.0), v.lat.unwrap_or(0.0));
        let best = rows
            .iter()
            .enumerate()
            .filter(|(j, w)| *j != i && w.parent_code == v.parent_code)
            .map(|(j, w)| {
                let (dx, dy) = (w.lon.unwrap_or(0.0) - pos.0, w.lat.unwrap_or(0.0) - pos.1);
                (dx * dx + dy * dy, j)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        if let Some((_, j)) = best {
            out[i].neighbour = j;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;
    use yilian_domain::id_number::IdNumber;

    #[test]
    fn id_string_matches_the_domain_builder() {
        let mut rng = stage_rng(11, Stage::Residents);
        let base = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
        for _ in 0..5000 {
            let d = base
                .checked_add_days(Days::new(rng.random_range(0..45_000)))
                .unwrap();
            let seq = rng.random_range(0..1000u16);
            for prefix in ["140599", "110105", "140527"] {
                let built = IdNumber::build(prefix, d, seq).unwrap();
                assert_eq!(id_string(prefix, d, seq), built.as_str());
            }
        }
    }

    #[test]
    fn prevalence_curve_interpolates() {
        assert_eq!(by_age(HYPERTENSION, 10), 0.0);
        assert!((by_age(HYPERTENSION, 24) - 0.0475).abs() < 1e-9);
        assert_eq!(by_age(HYPERTENSION, 99), 0.64);
    }
}
