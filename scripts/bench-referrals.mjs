// Referral benchmarks over HTTP against a running `yilian serve` (see docs/BENCHMARKS.md):
//   1. the referral cycle — create (submitted) → accept → schedule (books a slot in the
//      same transaction) — by C concurrent village-doctor / desk pairs;
//   2. booking under contention — C clients book the same slot at once, slot after slot;
//      exactly one must win each slot, the rest get 409 `slot_unavailable`.
// Usage: BASE_URL=http://127.0.0.1:18181 PASSWORD=… node scripts/bench-referrals.mjs [cycles] [concurrency]
// Logins come from `yilian generate --demo-password`: cunyi (village doctor), zhuanzhen (referral desk).
const BASE = (process.env.BASE_URL || 'http://127.0.0.1:18181').replace(/\/+$/, '');
const PASSWORD = process.env.PASSWORD || 'bench-pass-1';
const CYCLES = Number(process.argv[2] || 2000);
const CONC = Number(process.argv[3] || 16);
const CONTESTED_SLOTS = Number(process.env.CONTESTED_SLOTS || 200);
const CONTENDERS = Number(process.env.CONTENDERS || 50);

async function call(token, method, path, body) {
  const t0 = performance.now();
  const res = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, ms: performance.now() - t0 };
}
async function must(token, method, path, body, want) {
  const r = await call(token, method, path, body);
  if (r.status !== want) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.json)}`);
  return r;
}
async function login(username) {
  const r = await fetch(`${BASE}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  if (!r.ok) throw new Error(`login ${username}: ${r.status}`);
  return (await r.json()).token;
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const fmt = (xs) => `median ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms`;

// Opens `n` slots at the desk's hospital, 5 minutes each, a day (288) at a time from `day` days
// ahead; returns their ids.
async function openSlots(desk, hospitalId, n, day, department) {
  const ids = [];
  for (let k = 0; ids.length < n; k++) {
    const d = new Date(Date.now() + 8 * 3600_000); // China Standard Time
    d.setUTCDate(d.getUTCDate() + day + k);
    const date = d.toISOString().slice(0, 10);
    d.setUTCDate(d.getUTCDate() + 1);
    const plan = { starts_at: `${date}T00:00`, minutes: 5, count: Math.min(n - ids.length, 288), department, reserved_bp: 0 };
    await must(desk, 'POST', '/api/v1/slots', plan, 201);
    const q = `/api/v1/slots?institution_id=${hospitalId}&from=${date}T00:00&to=${d.toISOString().slice(0, 10)}T00:00`;
    const listed = (await must(desk, 'GET', q, undefined, 200)).json;
    ids.push(...listed.filter((s) => s.department === department && !s.booked).map((s) => s.id));
  }
  return ids.slice(0, n);
}

const vd = await login('cunyi');
const desk = await login('zhuanzhen');
const residents = (await must(vd, 'GET', '/api/v1/residents?limit=500', undefined, 200)).json.items;
const hospitalCode = process.env.HOSPITAL || 'H14059901';
const hospital = (await must(desk, 'GET', `/api/v1/institutions?q=${hospitalCode}&limit=5`, undefined, 200)).json.items.find(
  (i) => i.code === hospitalCode,
);
if (!hospital) throw new Error(`no institution ${hospitalCode}`);
console.log(`referral bench: ${BASE}, ${residents.length} residents of the village, hospital ${hospital.name}`);

// ---- 1. the referral cycle ----
const tag = `bench-${Date.now()}`;
const slots = await openSlots(desk, hospital.id, CYCLES, 30, tag);
if (slots.length < CYCLES) throw new Error(`only ${slots.length} slots opened`);
const lat = { create: [], accept: [], schedule: [], cycle: [] };
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: CONC }, async () => {
    for (let i = next++; i < CYCLES; i = next++) {
      const c0 = performance.now();
      const resident = residents[i % residents.length];
      const body = {
        resident_id: resident.id,
        direction: 'up',
        to_institution_code: hospitalCode,
        to_department: tag,
        icd10: 'I10',
        diagnosis: '原发性高血压',
        reason: '规范治疗3个月血压未达标',
        justification: '经家庭医生评估需上级医院调整方案',
      };
      const created = await must(vd, 'POST', '/api/v1/referrals', body, 201);
      lat.create.push(created.ms);
      const id = created.json.id;
      lat.accept.push((await must(desk, 'POST', `/api/v1/referrals/${id}/events`, { event: 'accept' }, 200)).ms);
      const sched = { event: 'schedule', slot_id: slots[i] };
      lat.schedule.push((await must(desk, 'POST', `/api/v1/referrals/${id}/events`, sched, 200)).ms);
      lat.cycle.push(performance.now() - c0);
    }
  }),
);
const secs = (performance.now() - t0) / 1000;
console.log(`cycles: ${CYCLES} create→accept→schedule with ${CONC} concurrent pairs in ${secs.toFixed(1)} s`);
console.log(`  throughput ${(CYCLES / secs).toFixed(0)} referral cycles/s (${((3 * CYCLES) / secs).toFixed(0)} requests/s)`);
for (const k of ['create', 'accept', 'schedule', 'cycle']) console.log(`  ${k.padEnd(8)} ${fmt(lat[k])}`);

// ---- 2. booking under contention ----
const contested = await openSlots(desk, hospital.id, CONTESTED_SLOTS, 40, `${tag}-contended`);
let won = 0;
let lost = 0;
let other = 0;
const rounds = [];
const t1 = performance.now();
for (const slot of contested) {
  const r0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: CONTENDERS }, (_, k) =>
      call(desk, 'POST', '/api/v1/appointments', { slot_id: slot, resident_id: residents[k % residents.length].id }),
    ),
  );
  rounds.push(performance.now() - r0);
  const wins = results.filter((r) => r.status === 201).length;
  if (wins !== 1) throw new Error(`slot ${slot}: ${wins} bookings succeeded`);
  won += wins;
  lost += results.filter((r) => r.status === 409 && r.json?.code === 'slot_unavailable').length;
  other += results.filter((r) => r.status !== 201 && r.status !== 409).length;
}
const secs2 = (performance.now() - t1) / 1000;
console.log(
  `contention: ${CONTESTED_SLOTS} slots × ${CONTENDERS} simultaneous bookings in ${secs2.toFixed(1)} s — ` +
    `${won} booked (exactly one per slot), ${lost} refused 409 slot_unavailable, ${other} other`,
);
console.log(`  ${((CONTESTED_SLOTS * CONTENDERS) / secs2).toFixed(0)} booking requests/s; per contested slot ${fmt(rounds)}`);
if (other) process.exit(1);
