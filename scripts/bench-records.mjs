// Shared health record benchmarks over HTTP against a running `yilian serve` (docs/BENCHMARKS.md):
//   1. timeline load for one resident with 500 entries — first page (50) and the whole
//      timeline (500) — every read also appends a hash-chained access-log entry;
//   2. access-log append throughput — the cheapest read (limit=1) by C concurrent clients,
//      so the figure is dominated by the grounds check and the chained append;
//   3. recognition lookup at order time (POST …/orders/check: the resident's earlier results
//      of the item, their labs' standing and intervening treatments, the rule; also a logged read).
// Usage: BASE_URL=http://127.0.0.1:18181 PASSWORD=… node scripts/bench-records.mjs [seconds] [concurrency]
// Logins come from `yilian generate --demo-password`: cunyi (village doctor), admin.
const BASE = (process.env.BASE_URL || 'http://127.0.0.1:18181').replace(/\/+$/, '');
const PASSWORD = process.env.PASSWORD || 'bench-pass-1';
const SECONDS = Number(process.argv[2] || 10);
const CONC = Number(process.argv[3] || 16);
const ENTRIES = 500;

async function call(token, method, path, body) {
  const t0 = performance.now();
  const res = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
  return { json: text ? JSON.parse(text) : null, ms: performance.now() - t0 };
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
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// Runs `fn` from C workers for SECONDS; returns requests/s and latency percentiles.
async function load(label, fn) {
  const lat = [];
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (performance.now() < end) lat.push((await fn()).ms);
    }),
  );
  const rate = lat.length / SECONDS;
  console.log(
    `${label.padEnd(38)} ${rate.toFixed(0).padStart(6)} req/s  median ${pct(lat, 50).toFixed(1)} ms  p99 ${pct(lat, 99).toFixed(1)} ms  (${lat.length} requests)`,
  );
  return rate;
}

const vd = await login('cunyi');
// A resident of the village, given 500 entries of a year's care at this clinic.
const residents = (await call(vd, 'GET', '/api/v1/residents?limit=50')).json.items;
const rid = residents[residents.length - 1].id;
const before = (await call(vd, 'GET', `/api/v1/residents/${rid}/record?break_glass=${encodeURIComponent('基准测试建档')}&limit=1`)).json.entries.total;
const kinds = [
  { kind: 'encounter', encounter_type: 'follow_up', title: '高血压随访' },
  { kind: 'lab', code: 'fasting_glucose', title: '空腹血糖', value: '6.1', unit: 'mmol/L', reference_range: '3.9-6.1', hr_mark: true },
  { kind: 'diagnosis', code: 'I10', title: '原发性高血压' },
  { kind: 'prescription', title: '氨氯地平片 5mg 每日一次 ×28天' },
  { kind: 'document', title: '随访记录', body: '血压控制尚可，继续原方案。' },
];
const t0 = performance.now();
for (let i = before; i < ENTRIES; i++) {
  const day = new Date(Date.now() - (ENTRIES - i) * 17 * 3600_000 + 8 * 3600_000);
  const at = day.toISOString().slice(0, 16);
  await call(vd, 'POST', `/api/v1/residents/${rid}/record`, { ...kinds[i % kinds.length], occurred_at: at });
}
const seeded = (performance.now() - t0) / 1000;
console.log(`record bench: ${BASE}, resident ${rid} with ${ENTRIES} entries (${ENTRIES - before} added in ${seeded.toFixed(1)} s), ${CONC} clients × ${SECONDS} s`);

await load('timeline, first page (50 entries)', () => call(vd, 'GET', `/api/v1/residents/${rid}/record`));
await load('timeline, whole (500 entries)', () => call(vd, 'GET', `/api/v1/residents/${rid}/record?limit=500`));
await load('access-log append (limit=1 reads)', () => call(vd, 'GET', `/api/v1/residents/${rid}/record?limit=1`));

// The clinic's lab passed external quality assessment, so its recent glucose results are recognisable.
const admin = await login('admin');
const clinic = (await call(vd, 'GET', `/api/v1/residents/${rid}/record?limit=1`)).json.entries.items[0].institution_id;
const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
const lastYear = new Date(Date.now() - 360 * 86_400_000).toISOString().slice(0, 10);
const nextYear = new Date(Date.now() + 360 * 86_400_000).toISOString().slice(0, 10);
await call(admin, 'POST', `/api/v1/institutions/${clinic}/lab-quality`, { passed_on: lastYear, valid_until: nextYear, assessor: '基准测试' });
await call(vd, 'POST', `/api/v1/residents/${rid}/record`, { kind: 'lab', code: 'fasting_glucose', title: '空腹血糖', value: '5.8', unit: 'mmol/L', hr_mark: true, occurred_at: `${today}T07:30` });
const probe = (await call(vd, 'POST', `/api/v1/residents/${rid}/orders/check`, { item_code: 'fasting_glucose' })).json;
console.log(`recognition probe: ${JSON.stringify(probe).includes('"recognizable":true') ? 'a recognisable result is offered' : 'no recognisable result'}`);
await load('recognition lookup (orders/check)', () => call(vd, 'POST', `/api/v1/residents/${rid}/orders/check`, { item_code: 'fasting_glucose' }));
