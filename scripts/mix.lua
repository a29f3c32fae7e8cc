-- wrk script: a county's mixed day against `yilian serve` (docs/BENCHMARKS.md,
-- "Whole-system HTTP load (issue 9)"); driven by scripts/bench-http-mix.sh.
--
-- Run with as many threads as connections (wrk -tN -cN): each wrk thread then
-- owns exactly one connection, so request() and response() alternate strictly
-- and the script knows which request every response answers. That is what
-- makes per-type status counts, per-type latency and the referral chain exact.
--
-- Actions, drawn by weight (env WEIGHTS overrides, same order):
--   lookup   40  GET  /api/v1/residents?id_number=…             (admin)
--   record   25  GET  /api/v1/residents/{id}/record             (township clinician, contract/encounter ground)
--   slots    12  GET  /api/v1/slots?institution_id=…&from&to    (referral desk, a 2-hour window)
--   followup 10  POST /api/v1/enrolments/{id}/followups         (township clinician)
--   book      5  POST /api/v1/appointments                      (referral desk; 1 in 10 retries a slot
--                                                                it already booked: an expected 409)
--   referral  3  POST /api/v1/referrals (village doctor) → POST …/events accept → schedule (desk),
--                the three steps back to back on the same connection
-- Environment: DATA (directory with ids.txt, record.txt, enrol.txt, village.txt,
-- chain-slots.txt, book-slots.txt, env.txt), OUT_JSON (summary written by done()).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } mix_timespec;
int clock_gettime(int clk, mix_timespec *ts);
]]
local ts = ffi.new("mix_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local DATA = os.getenv("DATA")
local function lines(name)
  local t = {}
  for l in io.lines(DATA .. "/" .. name) do
    if l ~= "" then t[#t + 1] = l end
  end
  return t
end
local env = {}
for _, l in ipairs(lines("env.txt")) do
  local k, v = l:match("^([%w_]+)=(.*)$")
  if k then env[k] = v end
end

local TYPES = { "lookup", "record", "slots", "followup", "book", "ref_create", "ref_accept", "ref_schedule" }
local ACTIONS = { "lookup", "record", "slots", "followup", "book", "referral" }
local weights = { 40, 25, 12, 10, 5, 3 }
if os.getenv("WEIGHTS") then
  local i = 0
  for w in os.getenv("WEIGHTS"):gmatch("[%d.]+") do i = i + 1; weights[i] = tonumber(w) end
end

-- ---------------------------------------------------------------- main state: thread setup
local threads = {}
local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end

-- ---------------------------------------------------------------- thread state
local ids, record, enrol, village, chain_slots, book_slots
local H = {}
local hospital_id, slot_days
local cum, total_w = {}, 0
local chain_i, book_i = 0, 0
local booked = {}
local pending = nil -- { step = "ref_accept" | "ref_schedule", id = referral id }
local current, t0 = nil, 0
-- Per type, as flat globals (wrk's thread:get crashes on nested tables):
-- lat_<type> = { µs, … }, cnt_<type> = { ok, conflict }, oth_<type> = "status:n,…".
local stats = {} -- per type: { ok, conflict, other = { [status] = n }, lat = { µs, … } }
exhausted = { chain = 0, book = 0 }

function init(args)
  tid = tid or 1
  ids, record, enrol, village = lines("ids.txt"), lines("record.txt"), lines("enrol.txt"), lines("village.txt")
  chain_slots, book_slots = lines("chain-slots.txt"), lines("book-slots.txt")
  local function hdr(tok)
    return { ["Authorization"] = "Bearer " .. tok, ["Content-Type"] = "application/json" }
  end
  H.admin, H.clin, H.vd, H.desk = hdr(env.ADMIN), hdr(env.CLINICIAN), hdr(env.VILLAGE_DOCTOR), hdr(env.DESK)
  hospital_id = env.HOSPITAL_ID
  slot_days = {}
  for d in env.SLOT_DAYS:gmatch("[^,]+") do slot_days[#slot_days + 1] = d end
  for i, w in ipairs(weights) do total_w = total_w + w; cum[i] = total_w end
  for _, t in ipairs(TYPES) do
    stats[t] = { ok = 0, conflict = 0, other = {}, lat = {} }
    _G["lat_" .. t], _G["cnt_" .. t], _G["oth_" .. t] = stats[t].lat, { 0, 0 }, ""
  end
  math.randomseed(7919 * tid + 17)
  -- Thread tid of N takes slots tid, tid+N, tid+2N, … of each pool: no two threads share one.
  chain_i, book_i = tid - N_THREADS_HINT(), tid - N_THREADS_HINT()
end

-- wrk's init() runs in each thread before the number of threads is known to it;
-- the thread count comes from the environment (the driver passes THREADS).
function N_THREADS_HINT() return tonumber(os.getenv("THREADS") or "1") end

local function pick(t) return t[math.random(#t)] end

local function next_slot(pool, which)
  local n = N_THREADS_HINT()
  if which == "chain" then chain_i = chain_i + n; return pool[chain_i] end
  book_i = book_i + n
  return pool[book_i]
end

local function go(kind, method, path, headers, body)
  current = kind
  t0 = now_us()
  return wrk.format(method, path, headers, body)
end

function request()
  if pending then
    local p = pending
    if p.step == "ref_accept" then
      return go("ref_accept", "POST", "/api/v1/referrals/" .. p.id .. "/events", H.desk, '{"event":"accept"}')
    else
      return go("ref_schedule", "POST", "/api/v1/referrals/" .. p.id .. "/events", H.desk,
        '{"event":"schedule","slot_id":' .. p.slot .. '}')
    end
  end
  local r, a = math.random() * total_w, 1
  while cum[a] < r do a = a + 1 end
  local action = ACTIONS[a]
  if action == "lookup" then
    return go("lookup", "GET", "/api/v1/residents?id_number=" .. pick(ids), H.admin)
  elseif action == "record" then
    return go("record", "GET", "/api/v1/residents/" .. pick(record) .. "/record", H.clin)
  elseif action == "slots" then
    local d = pick(slot_days)
    local h = 8 + math.random(0, 8)
    return go("slots", "GET", string.format("/api/v1/slots?institution_id=%s&from=%sT%02d:00:00&to=%sT%02d:00:00",
      hospital_id, d, h, d, h + 2), H.desk)
  elseif action == "followup" then
    local sbp, dbp = math.random(118, 158), math.random(70, 96)
    return go("followup", "POST", "/api/v1/enrolments/" .. pick(enrol) .. "/followups", H.clin,
      string.format('{"sbp":%d,"dbp":%d,"heart_rate":%d,"weight_kg":%.1f,"adherence":"regular","note":"wrk mix"}',
        sbp, dbp, math.random(60, 90), 50 + math.random() * 30))
  elseif action == "book" then
    local slot
    if #booked > 0 and math.random() < 0.1 then
      slot = pick(booked) -- already taken: 409 slot_unavailable expected
    else
      slot = next_slot(book_slots, "book")
      if not slot then exhausted.book = exhausted.book + 1; slot = pick(book_slots) end
    end
    return go("book", "POST", "/api/v1/appointments", H.desk,
      '{"slot_id":' .. slot .. ',"resident_id":' .. pick(record) .. '}')
  else
    return go("ref_create", "POST", "/api/v1/referrals", H.vd,
      '{"resident_id":' .. pick(village) .. ',"direction":"up","to_institution_code":"' .. env.HOSPITAL_CODE ..
      '","to_department":"' .. env.DEPARTMENT .. '","icd10":"I10","diagnosis":"原发性高血压",' ..
      '"reason":"规范治疗3个月血压未达标","justification":"经家庭医生评估需上级医院调整方案"}')
  end
end

function response(status, headers, body)
  local dt = now_us() - t0
  local s = stats[current]
  local c = _G["cnt_" .. current]
  if status >= 200 and status < 300 then
    c[1] = c[1] + 1
  elseif status == 409 then
    c[2] = c[2] + 1
  else
    s.other[status] = (s.other[status] or 0) + 1
    local parts = {}
    for code, n in pairs(s.other) do parts[#parts + 1] = code .. ":" .. n end
    _G["oth_" .. current] = table.concat(parts, ",")
  end
  s.lat[#s.lat + 1] = dt
  if current == "book" and status == 201 then
    booked[#booked + 1] = body:match('"slot_id":(%d+)')
  end
  -- The referral chain: create → accept → schedule, then back to the mix.
  if current == "ref_create" then
    local id = status == 201 and body:match('"id":(%d+)')
    pending = id and { step = "ref_accept", id = id } or nil
  elseif current == "ref_accept" then
    if status == 200 then
      local slot = next_slot(chain_slots, "chain")
      if slot then
        pending = { step = "ref_schedule", id = pending.id, slot = slot }
      else
        exhausted.chain = exhausted.chain + 1
        pending = nil
      end
    else
      pending = nil
    end
  elseif current == "ref_schedule" then
    pending = nil
  end
end

-- ---------------------------------------------------------------- summary
local function pct(sorted, p)
  if #sorted == 0 then return 0 end
  local i = math.floor(p / 100 * #sorted) + 1
  if i > #sorted then i = #sorted end
  return sorted[i]
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local merged, all = {}, {}
  local ex = { chain = 0, book = 0 }
  for _, t in ipairs(TYPES) do merged[t] = { ok = 0, conflict = 0, other = {}, lat = {} } end
  for _, th in ipairs(threads) do
    local e = th:get("exhausted")
    ex.chain, ex.book = ex.chain + e.chain, ex.book + e.book
    for _, t in ipairs(TYPES) do
      local a, cnt = merged[t], th:get("cnt_" .. t)
      a.ok, a.conflict = a.ok + cnt[1], a.conflict + cnt[2]
      for code, n in (th:get("oth_" .. t) or ""):gmatch("(%d+):(%d+)") do
        code = tonumber(code)
        a.other[code] = (a.other[code] or 0) + tonumber(n)
      end
      for _, v in ipairs(th:get("lat_" .. t)) do a.lat[#a.lat + 1] = v; all[#all + 1] = v end
    end
  end
  table.sort(all)
  local ms = function(v) return v / 1000 end
  local out = {}
  local function add(s) out[#out + 1] = s end
  add(string.format('{"seconds":%.2f,"requests":%d,"rps":%.1f,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"wrk_p50_ms":%.2f,"wrk_p99_ms":%.2f,"socket_errors":%d,"slots_exhausted":{"chain":%d,"book":%d},"weights":[%s],"types":{',
    secs, #all, #all / secs, ms(pct(all, 50)), ms(pct(all, 90)), ms(pct(all, 99)), ms(all[#all] or 0),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    ex.chain, ex.book, table.concat(weights, ",")))
  io.write(string.format("\n%-13s %8s %8s %8s %8s %8s %8s  %s\n", "type", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms",
    "409", "other non-2xx"))
  for k, t in ipairs(TYPES) do
    local a = merged[t]
    table.sort(a.lat)
    local others, ojs = {}, {}
    for code, n in pairs(a.other) do
      others[#others + 1] = code .. "×" .. n
      ojs[#ojs + 1] = string.format('"%d":%d', code, n)
    end
    io.write(string.format("%-13s %8d %8.1f %8.2f %8.2f %8.2f %8d  %s\n", t, #a.lat, #a.lat / secs, ms(pct(a.lat, 50)),
      ms(pct(a.lat, 90)), ms(pct(a.lat, 99)), a.conflict, #others > 0 and table.concat(others, " ") or "-"))
    add(string.format('%s"%s":{"requests":%d,"rps":%.1f,"ok":%d,"conflict_409":%d,"other":{%s},"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f}',
      k > 1 and "," or "", t, #a.lat, #a.lat / secs, a.ok, a.conflict, table.concat(ojs, ","), ms(pct(a.lat, 50)),
      ms(pct(a.lat, 90)), ms(pct(a.lat, 99))))
  end
  add("}}")
  io.write(string.format("%-13s %8d %8.1f %8.2f %8.2f %8.2f\n", "all", #all, #all / secs, ms(pct(all, 50)), ms(pct(all, 90)),
    ms(pct(all, 99))))
  if ex.chain + ex.book > 0 then
    io.write(string.format("slot pools exhausted: chain %d, book %d (enlarge the pools)\n", ex.chain, ex.book))
  end
  local path = os.getenv("OUT_JSON")
  if path then
    local f = assert(io.open(path, "w"))
    f:write(table.concat(out), "\n")
    f:close()
  end
end
