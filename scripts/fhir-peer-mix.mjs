#!/usr/bin/env node
// FHIR R4 read/create mix against any FHIR server (issue 9, "FHIR peer";
// driven by scripts/bench-fhir-peer.sh, see docs/bench-sections/fhir-peer.md).
//
// Every iteration is one synthetic visit, the same seven requests in the same
// order on the same connection, whatever the server:
//   1 patient_create   POST {base}/Patient
//   2 patient_read     GET  {base}/Patient/{id}
//   3 encounter_create POST {base}/Encounter          (subject = the Patient)
//   4 obs_create       POST {base}/Observation        (subject, encounter)
//   5 encounter_read   GET  {base}/Encounter/{id}
//   6 obs_read         GET  {base}/Observation/{id}
//   7 obs_search       GET  {base}/Observation?patient={id}   (must find exactly 1)
// CONCURRENCY workers each own one keep-alive connection and run iterations
// back to back until ITERATIONS are done (a fixed amount of work per run).
// Every answer is checked (status 201/200, resourceType, id, the search's one
// match); any failure is counted per type with a sample and the exit code is 1.
//
// The bodies are identical for every server: a Patient with a valid GB 11643
// identity number (urn:oid:2.16.156.10011.1.3) unique to the iteration's global
// index, a name, phone, gender, birth date and an address carrying the region
// code extension; an ambulatory Encounter at Organization/{org}; a laboratory
// Observation (glucose) with valueQuantity. yilian needs the identity number,
// the region extension and its own institution as serviceProvider/performer;
// a generic server stores them as given.
//
// Options (--name value): --base URL (FHIR base, e.g. http://127.0.0.1:8080/fhir)
// --token T (Bearer; omitted when empty) --concurrency C (8) --iterations N (1000)
// --first K (0: global index of the first iteration; runs against one store
// need disjoint ranges) --org ID (Organization id for serviceProvider/performer)
// --region CODE (12-digit village code for the address extension) --id-prefix
// NNNNNN (identity numbers' address code) --birth-from YYYY-MM-DD (1940-01-01;
// 999 sequence numbers per birth day) --label TEXT --no-search (skip step 7).
// Prints one JSON object on stdout.
import http from "node:http";

const args = Object.fromEntries(
  (() => {
    const a = process.argv.slice(2), out = [];
    for (let i = 0; i < a.length; i++) {
      if (a[i] === "--no-search") out.push(["no-search", true]);
      else out.push([a[i].replace(/^--/, ""), a[++i]]);
    }
    return out;
  })(),
);
const BASE = new URL((args.base || "http://127.0.0.1:8080/fhir").replace(/\/$/, ""));
const TOKEN = args.token || "";
const C = Number(args.concurrency || 8);
const N = Number(args.iterations || 1000);
const FIRST = Number(args.first || 0);
const ORG = args.org || "1";
const REGION = args.region || "";
const PREFIX = args["id-prefix"] || "110199";
const BIRTH_FROM = new Date((args["birth-from"] || "1940-01-01") + "T00:00:00Z");
const SEARCH = !args["no-search"];
const LABEL = args.label || BASE.host;
const ID_SYSTEM = "urn:oid:2.16.156.10011.1.3";
const REGION_EXT = "https://yilian.example/fhir/StructureDefinition/region-code";
const LAB = "https://yilian.example/fhir/CodeSystem/lab-item";
const TYPES = ["patient_create", "patient_read", "encounter_create", "obs_create",
  "encounter_read", "obs_read", "obs_search"].filter((t) => SEARCH || t !== "obs_search");

// ---------------------------------------------------------------- synthetic data
const W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = "10X98765432";
function idNumber(prefix, ymd, seq) {
  const body = `${prefix}${ymd}${String(seq).padStart(3, "0")}`;
  let s = 0;
  for (let i = 0; i < 17; i++) s += (body.charCodeAt(i) - 48) * W[i];
  return body + CHECK[s % 11];
}
const SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗";
const GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华文建国兰玉春海";
const pad = (n, w = 2) => String(n).padStart(w, "0");
const ymd = (d) => `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
const iso = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
const TODAY = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));

function patient(i) {
  const born = new Date(BIRTH_FROM.getTime() + Math.floor(i / 999) * 86400e3);
  const seq = (i % 999) + 1; // odd = male
  const male = seq % 2 === 1;
  const name = SURNAMES[i % 20] + GIVEN[Math.floor(i / 20) % 30] + GIVEN[(Math.floor(i * 7 / 3) + Math.floor(i / 600)) % 30];
  const p = {
    resourceType: "Patient",
    identifier: [{ system: ID_SYSTEM, value: idNumber(PREFIX, ymd(born), seq) }],
    name: [{ use: "official", text: name }],
    telecom: [{ system: "phone", value: "139" + String(i % 1e8).padStart(8, "0"), use: "mobile" }],
    gender: male ? "male" : "female",
    birthDate: iso(born),
    address: [{ text: `${1 + (i % 300)}号`, country: "CN" }],
  };
  if (REGION) p.address[0].extension = [{ url: REGION_EXT, valueCode: REGION }];
  return p;
}
function visitDay(i) {
  return iso(new Date(TODAY.getTime() - (1 + (i % 180)) * 86400e3));
}
function encounter(i, pid) {
  const d = visitDay(i);
  return {
    resourceType: "Encounter",
    status: "finished",
    class: { system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "AMB" },
    type: [{ coding: [{ system: "https://yilian.example/fhir/CodeSystem/encounter-type", code: "outpatient" }], text: "内科门诊" }],
    subject: { reference: `Patient/${pid}` },
    period: { start: `${d}T09:00:00+08:00`, end: `${d}T09:30:00+08:00` },
    serviceProvider: { reference: `Organization/${ORG}` },
  };
}
function observation(i, pid, eid) {
  const d = visitDay(i);
  return {
    resourceType: "Observation",
    status: "final",
    category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }] }],
    code: { coding: [{ system: LAB, code: "GLU", display: "空腹血糖" }] },
    subject: { reference: `Patient/${pid}` },
    encounter: { reference: `Encounter/${eid}` },
    effectiveDateTime: `${d}T09:10:00+08:00`,
    performer: [{ reference: `Organization/${ORG}` }],
    valueQuantity: { value: Math.round(78 * (0.8 + 0.4 * ((i * 7) % 100) / 100)) / 10, unit: "mmol/L" },
    referenceRange: [{ text: "3.9-6.1" }],
  };
}

// ---------------------------------------------------------------- HTTP
const agent = new http.Agent({ keepAlive: true, maxSockets: C, maxFreeSockets: C });
const baseHeaders = { accept: "application/fhir+json" };
if (TOKEN) baseHeaders.authorization = `Bearer ${TOKEN}`;
const basePath = BASE.pathname === "/" ? "" : BASE.pathname;

function send(method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = { ...baseHeaders };
    let data;
    if (body !== undefined) {
      data = Buffer.from(JSON.stringify(body));
      headers["content-type"] = "application/fhir+json";
      headers["content-length"] = data.length;
    }
    const t0 = process.hrtime.bigint();
    const req = http.request(
      { host: BASE.hostname, port: BASE.port, method, path: basePath + path, headers, agent },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const us = Number(process.hrtime.bigint() - t0) / 1e3;
          resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8"), headers: res.headers, us });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(120e3, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

const lat = Object.fromEntries(TYPES.map((t) => [t, []]));
const errors = Object.fromEntries(TYPES.map((t) => [t, 0]));
const samples = [];
class Failed extends Error {}

function fail(type, why) {
  errors[type]++;
  if (samples.length < 10) samples.push(`${type}: ${why}`.slice(0, 600));
  throw new Failed(why);
}

async function step(type, method, path, body, want, check) {
  let r;
  try {
    r = await send(method, path, body);
  } catch (e) {
    fail(type, `transport: ${e.message}`);
  }
  lat[type].push(r.us);
  if (r.status !== want) fail(type, `status ${r.status}: ${r.text.slice(0, 400)}`);
  let v;
  try {
    v = JSON.parse(r.text);
  } catch (e) {
    fail(type, `not JSON: ${r.text.slice(0, 200)}`);
  }
  const why = check(v);
  if (why) fail(type, `${why}: ${r.text.slice(0, 300)}`);
  return v;
}
const isA = (rt) => (v) => (v.resourceType === rt && typeof v.id === "string" && v.id) ? null : `not a ${rt} with an id`;

async function iteration(i) {
  const p = await step("patient_create", "POST", "/Patient", patient(i), 201, isA("Patient"));
  await step("patient_read", "GET", `/Patient/${p.id}`, undefined, 200,
    (v) => (v.resourceType === "Patient" && v.id === p.id) ? null : "not the Patient created");
  const e = await step("encounter_create", "POST", "/Encounter", encounter(i, p.id), 201, isA("Encounter"));
  const o = await step("obs_create", "POST", "/Observation", observation(i, p.id, e.id), 201, isA("Observation"));
  await step("encounter_read", "GET", `/Encounter/${e.id}`, undefined, 200,
    (v) => (v.resourceType === "Encounter" && v.id === e.id) ? null : "not the Encounter created");
  await step("obs_read", "GET", `/Observation/${o.id}`, undefined, 200,
    (v) => (v.resourceType === "Observation" && v.id === o.id) ? null : "not the Observation created");
  if (SEARCH) {
    await step("obs_search", "GET", `/Observation?patient=${encodeURIComponent(p.id)}`, undefined, 200, (v) => {
      if (v.resourceType !== "Bundle" || v.type !== "searchset") return "not a searchset";
      const found = (v.entry || []).filter((x) => x.resource && x.resource.resourceType === "Observation");
      return found.length === 1 && found[0].resource.id === o.id ? null : `${found.length} Observations found, not the 1 created`;
    });
  }
}

// ---------------------------------------------------------------- run
let next = 0, done = 0, failedIters = 0;
async function worker() {
  for (;;) {
    const k = next++;
    if (k >= N) return;
    try {
      await iteration(FIRST + k);
      done++;
    } catch (e) {
      if (!(e instanceof Failed)) throw e;
      failedIters++;
      if (failedIters > 50) return; // a broken setup: stop early, report
    }
  }
}
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: C }, worker));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
agent.destroy();

const pct = (s, p) => (s.length ? s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1] : 0);
const ms = (x) => Math.round(x / 10) / 100;
const all = [];
const per = {};
for (const t of TYPES) {
  const s = lat[t].sort((a, b) => a - b);
  for (const x of s) all.push(x);
  per[t] = { n: s.length, errors: errors[t], p50_ms: ms(pct(s, 50)), p90_ms: ms(pct(s, 90)), p99_ms: ms(pct(s, 99)), max_ms: ms(pct(s, 100)) };
}
all.sort((a, b) => a - b);
const requests = all.length;
const nerr = Object.values(errors).reduce((a, b) => a + b, 0);
const out = {
  label: LABEL, base: BASE.href, concurrency: C, iterations: N, first: FIRST, completed_iterations: done,
  failed_iterations: failedIters, requests, errors: nerr, seconds: Math.round(seconds * 1000) / 1000,
  requests_per_s: Math.round((requests / seconds) * 10) / 10,
  iterations_per_s: Math.round((done / seconds) * 10) / 10,
  latency_ms: { p50: ms(pct(all, 50)), p90: ms(pct(all, 90)), p99: ms(pct(all, 99)), max: ms(pct(all, 100)) },
  per_type: per, driver_cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100, error_samples: samples,
};
console.log(JSON.stringify(out));
process.exitCode = nerr ? 1 : 0;
