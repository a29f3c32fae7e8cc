#!/usr/bin/env python3
"""Fetch samples of every FHIR resource type a running yilian serves.

Usage:
    fhir_samples.py --base http://127.0.0.1:PORT [--password yilian-demo] [--out DIR]

Meant for a generated demo county (`yilian demo` / `yilian generate
--demo-password`; see scripts/fhir-samples.sh, which starts one). Reads
`GET /fhir/metadata`, then for every resource type it lists logs in as the
demo user who may see that type, runs a search (with the parameters the
type requires) and reads a few of the matches. Into DIR (default
target/fhir-samples) it writes:

- `CapabilityStatement-metadata.json`;
- `<Type>-search[-<label>].json`: the searchset Bundle(s) of each type;
- `<Type>-<id>.json`: each resource read on its own;
- `TYPES`: the resource types of the metadata, comma-separated, for
  `scripts/fhir-validate.sh --require "$(cat DIR/TYPES)" DIR`.

The demo county holds no prescriptions and no consents, so a
MedicationRequest and a Consent are created through `POST /fhir` (as the
township clinician and as the demo resident); AuditEvent has entries once
the clinicians' record reads above are logged. Everything else comes from
the generated data.

Prints a count per type and exits 1 when a type of the metadata got no
sample, or when the server answered any request with a 5xx (the list of
failing requests is printed; the samples that could be fetched are written
all the same). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

CST = timezone(timedelta(hours=8))

# The demo logins (crates/yilian-cli/src/generate.rs, DEMO_ROLES).
ADMIN = "admin"  # registries
COMMISSION = "weijianwei"  # health_commission: MeasureReport
INSURER = "yibao"  # insurer: Claim, ClaimResponse
DESK = "zhuanzhen"  # referral_desk (county hospital): Schedule, Slot, Appointment
SPECIALIST = "zhuanke"  # specialist (county hospital): referrals and their patients' records
TOWNSHIP = "jiceng"  # primary_clinician (township centre): contracts, coverage, records
RESIDENT = "jumin"  # resident: own Consent and AuditEvent
CDC = "jikong"  # cdc: no grounds on records (a refused, logged read)

SEARCH_COUNT = 10  # matches per searchset
READS = 3  # matches read one by one per search
RECORD_TYPES = ["Encounter", "Condition", "Observation", "MedicationRequest", "DiagnosticReport"]
RECORD_PATIENTS = 40  # patients tried at most for the record types
RECORD_PATIENTS_PER_TYPE = 2  # patients sampled per record type


class Samples:
    def __init__(self, base: str, password: str, out: Path) -> None:
        self.base = base.rstrip("/")
        self.password = password
        self.out = out
        self.tokens: Dict[str, str] = {}
        self.read_count: Dict[str, int] = defaultdict(int)
        self.search_count: Dict[str, int] = defaultdict(int)
        self.created: Dict[str, int] = defaultdict(int)
        self.server_errors: List[str] = []
        self.requests = 0

    # ------------------------------------------------------------- HTTP

    def request(
        self, method: str, path: str, user: Optional[str] = None, body: Any = None
    ) -> Tuple[int, Any]:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/fhir+json")
        if data is not None:
            req.add_header("Content-Type", "application/fhir+json")
        if user is not None:
            req.add_header("Authorization", "Bearer " + self.token(user))
        self.requests += 1
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        if status >= 500:
            self.server_errors.append(
                f"{method} {path} as {user or '-'}: HTTP {status} {diagnostics(payload)}"
            )
        return status, payload

    def token(self, user: str) -> str:
        if user not in self.tokens:
            req = urllib.request.Request(
                self.base + "/api/v1/auth/login",
                data=json.dumps({"username": user, "password": self.password}).encode(),
                method="POST",
            )
            req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    self.tokens[user] = json.loads(resp.read())["token"]
            except urllib.error.HTTPError as e:
                raise SystemExit(
                    f"fhir_samples: login {user} failed: HTTP {e.code} {e.read()[:300]!r}"
                ) from None
        return self.tokens[user]

    def get(self, path: str, user: str) -> Tuple[int, Any]:
        return self.request("GET", path, user)

    # ------------------------------------------------------------ files

    def write(self, name: str, resource: Any) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        (self.out / f"{safe}.json").write_text(
            json.dumps(resource, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
            encoding="utf-8",
        )

    # ----------------------------------------------------------- search

    def search(
        self, rt: str, user: str, params: str = "", label: str = "", reads: int = READS
    ) -> List[Dict[str, Any]]:
        """A search; writes the Bundle and reads (and writes) up to
        `reads` of its matches. Returns the matches (empty on a refusal)."""
        q = f"_count={SEARCH_COUNT}" + (f"&{params}" if params else "")
        status, b = self.get(f"/fhir/{rt}?{q}", user)
        if status != 200 or not isinstance(b, dict) or b.get("resourceType") != "Bundle":
            if status < 500:
                print(f"  note: {rt}?{q} as {user}: HTTP {status} {diagnostics(b)}")
            return []
        matches = [
            e["resource"]
            for e in b.get("entry") or []
            if (e.get("search") or {}).get("mode", "match") == "match" and "resource" in e
        ]
        if not matches:
            return []
        self.write(f"{rt}-search" + (f"-{label}" if label else ""), b)
        for e in b.get("entry") or []:
            r = e.get("resource") or {}
            if r.get("resourceType"):
                self.search_count[r["resourceType"]] += 1
        for m in matches[:reads]:
            self.read(rt, m["id"], user)
        return matches

    def read(self, rt: str, rid: str, user: str) -> Optional[Dict[str, Any]]:
        status, r = self.get(f"/fhir/{rt}/{urllib.parse.quote(str(rid), safe='')}", user)
        if status == 200 and isinstance(r, dict) and r.get("resourceType") == rt:
            self.write(f"{rt}-{rid}", r)
            self.read_count[rt] += 1
            return r
        if status < 500:
            print(f"  note: read {rt}/{rid} as {user}: HTTP {status} {diagnostics(r)}")
        return None

    def create(self, rt: str, user: str, body: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        status, r = self.request("POST", f"/fhir/{rt}", user, body)
        if status == 201 and isinstance(r, dict):
            self.created[rt] += 1
            return r
        print(f"  note: create {rt} as {user}: HTTP {status} {diagnostics(r)}")
        return None

    def total(self, rt: str, user: str, params: str) -> Optional[int]:
        """`total` of a one-match search, `None` when refused (no grounds)."""
        status, b = self.get(f"/fhir/{rt}?_count=1&{params}", user)
        if status == 200 and isinstance(b, dict):
            return int(b.get("total") or 0)
        return None

    def have(self, rt: str) -> int:
        return self.read_count[rt] + self.search_count[rt]


def diagnostics(payload: Any) -> str:
    if isinstance(payload, dict) and payload.get("resourceType") == "OperationOutcome":
        issue = (payload.get("issue") or [{}])[0]
        where = ",".join(issue.get("expression") or [])
        return f"{issue.get('code')} {issue.get('diagnostics', '')}" + (f" at {where}" if where else "")
    return str(payload)[:200]


def ref_id(ref: Dict[str, Any], rt: str) -> Optional[str]:
    r = (ref or {}).get("reference") or ""
    return r.split("/", 1)[1] if r.startswith(rt + "/") else None


# ------------------------------------------------------- the created samples


def prescription(patient: str) -> Dict[str, Any]:
    """A short (7-day) ordinary prescription: within the long-prescription
    rule for anyone, so the clinician's grounds are all it needs."""
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "苯磺酸氨氯地平片"},
        "subject": {"reference": f"Patient/{patient}"},
        "dosageInstruction": [{"text": "5mg qd"}],
        "dispenseRequest": {
            "expectedSupplyDuration": {
                "value": 7,
                "unit": "天",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            }
        },
    }


def consent(patient: str, organization: str) -> Dict[str, Any]:
    """The resident lets an institution read the record for 30 days."""
    today = datetime.now(CST).date()
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "64292-6"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "policyRule": {
            "coding": [
                {
                    "system": "https://yilian.example/fhir/CodeSystem/consent-policy",
                    "code": "record-sharing",
                }
            ]
        },
        "provision": {
            "type": "permit",
            "period": {"start": str(today), "end": str(today + timedelta(days=30))},
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                            }
                        ]
                    },
                    "reference": {"reference": f"Organization/{organization}"},
                }
            ],
        },
    }


# ------------------------------------------------------------------ the run


def run(s: Samples) -> List[str]:
    status, cap = s.request("GET", "/fhir/metadata")
    if status != 200 or not isinstance(cap, dict):
        raise SystemExit(f"fhir_samples: GET /fhir/metadata: HTTP {status} {diagnostics(cap)}")
    s.write("CapabilityStatement-metadata", cap)
    types = [r["type"] for rest in cap.get("rest") or [] for r in rest.get("resource") or []]
    (s.out / "TYPES").write_text(",".join(types) + "\n", encoding="utf-8")
    print(f"metadata: {len(types)} resource types: {', '.join(types)}")

    # Registries.
    s.search("Patient", ADMIN)
    orgs = s.search("Organization", ADMIN)
    practitioners = s.search("Practitioner", ADMIN)
    for p in practitioners[:2]:
        s.search("PractitionerRole", ADMIN, f"practitioner=Practitioner/{p['id']}", label=p["id"])
    if orgs:
        s.search("PractitionerRole", ADMIN, f"organization=Organization/{orgs[0]['id']}", label="org")
    s.search("Location", ADMIN)
    s.search("CareTeam", ADMIN)

    # The township clinician's own patients (unmasked reads), contracts, coverage.
    own = s.search("Patient", TOWNSHIP, label="township")
    s.search("EpisodeOfCare", TOWNSHIP)
    for p in own[:2]:
        s.search("Coverage", TOWNSHIP, f"beneficiary=Patient/{p['id']}", label=p["id"], reads=1)

    # Referrals (with the referred patients included), their tasks, the
    # hospital's schedules, slots and appointments.
    referrals = s.search("ServiceRequest", SPECIALIST, "_include=ServiceRequest:subject")
    s.search("Task", SPECIALIST)
    s.search("Schedule", DESK)
    s.search("Slot", DESK)
    if not s.search("Appointment", DESK):
        # The plain search failed or found nothing: try status by status so
        # the appointments that do map still get validated.
        for st in ["booked", "arrived", "fulfilled", "noshow", "cancelled"]:
            s.search("Appointment", DESK, f"status={st}", label=st, reads=1)

    # Insurance and oversight.
    s.search("Claim", INSURER)
    s.search("ClaimResponse", INSURER)
    s.search("MeasureReport", COMMISSION)

    # The shared record: one patient per type on whom a clinician has
    # grounds (the specialist for referred patients, the township centre
    # for its own); 403 (no grounds) just moves on.
    candidates: List[Tuple[str, str]] = []
    seen = set()
    for who, pats in (
        (SPECIALIST, [ref_id(r.get("subject"), "Patient") for r in referrals]),
        (SPECIALIST, [p["id"] for p in s_all(s, "ServiceRequest", SPECIALIST)]),
        (TOWNSHIP, [p["id"] for p in own]),
    ):
        for pid in pats:
            if pid and (who, pid) not in seen:
                seen.add((who, pid))
                candidates.append((who, pid))
    grounded: List[Tuple[str, str]] = []
    wanted = {rt: RECORD_PATIENTS_PER_TYPE for rt in RECORD_TYPES}
    for who, pid in candidates[:RECORD_PATIENTS]:
        if not any(wanted.values()):
            break
        if s.total("Encounter", who, f"patient=Patient/{pid}") is None:
            continue  # no grounds
        grounded.append((who, pid))
        for rt in RECORD_TYPES:
            if wanted[rt] and s.total(rt, who, f"patient=Patient/{pid}"):
                s.search(rt, who, f"patient=Patient/{pid}", label=pid, reads=2)
                wanted[rt] -= 1
    todo = [rt for rt in RECORD_TYPES if s.have(rt) == 0]
    # The demo county has no prescriptions: write one (a 7-day ordinary
    # prescription) for a patient the clinician has grounds on, then search.
    for rt in list(todo):
        if rt == "MedicationRequest" and grounded:
            who, pid = grounded[0]
            if s.create(rt, who, prescription(pid)):
                if s.search(rt, who, f"patient=Patient/{pid}", label=pid):
                    todo.remove(rt)

    # The resident: Consent (none in the demo county: the resident grants
    # one to the county hospital) and the access log of their own record
    # (the township clinician reads it first, which logs the read).
    me = s.search("Patient", RESIDENT, label="resident", reads=1)
    if me:
        mine = me[0]["id"]
        if not s.search("Consent", RESIDENT):
            org = orgs[-1]["id"] if orgs else "1"
            hospital = [o for o in orgs if "医院" in json.dumps(o.get("name", ""), ensure_ascii=False)]
            if hospital:
                org = hospital[0]["id"]
            if s.create("Consent", RESIDENT, consent(mine, org)):
                s.search("Consent", RESIDENT)
        s.get(f"/fhir/Encounter?_count=1&patient=Patient/{mine}", TOWNSHIP)
        # A read without grounds (the CDC has no treating relationship) is
        # refused and logged too: an AuditEvent with outcome 4.
        s.get(f"/fhir/Encounter?_count=1&patient=Patient/{mine}", CDC)
        s.search("AuditEvent", RESIDENT)
    # The commission and the administrator see the reads flagged for review.
    s.search("AuditEvent", COMMISSION, label="review")

    # A type added to the support table that this script does not know yet:
    # a plain search by each demo user until one finds something.
    users = [ADMIN, COMMISSION, INSURER, DESK, SPECIALIST, TOWNSHIP, RESIDENT]
    for rt in types:
        if s.have(rt) == 0 and rt not in RECORD_TYPES:
            for u in users:
                if s.search(rt, u, label=u):
                    break
    return types


def s_all(s: Samples, rt: str, user: str) -> List[Dict[str, Any]]:
    """Patients of more referrals than the first page (no files written)."""
    status, b = s.get(f"/fhir/{rt}?_count=100", user)
    if status != 200 or not isinstance(b, dict):
        return []
    out = []
    for e in b.get("entry") or []:
        pid = ref_id((e.get("resource") or {}).get("subject"), "Patient")
        if pid:
            out.append({"id": pid})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the server, e.g. http://127.0.0.1:18090")
    ap.add_argument("--password", default="yilian-demo", help="the demo logins' password")
    ap.add_argument("--out", default="target/fhir-samples", help="output directory")
    args = ap.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for f in list(out.glob("*.json")) + [out / "TYPES"]:
        if f.is_file():
            f.unlink()

    s = Samples(args.base, args.password, out)
    types = run(s)

    print()
    print(f"{'type':<20} {'read':>5} {'in searchsets':>14} {'created':>8}")
    missing = []
    for rt in types:
        print(f"{rt:<20} {s.read_count[rt]:>5} {s.search_count[rt]:>14} {s.created[rt]:>8}")
        if s.read_count[rt] == 0 or s.search_count[rt] == 0:
            missing.append(rt)
    extra = sorted(set(s.search_count) - set(types))
    if extra:
        print("also in searchsets: " + ", ".join(f"{t} {s.search_count[t]}" for t in extra))
    files = len(list(out.glob("*.json")))
    print(f"{files} files in {out}, {s.requests} requests")
    status = 0
    if s.server_errors:
        print(f"FAIL  {len(s.server_errors)} request(s) answered with a server error:")
        for e in s.server_errors:
            print(f"  {e}")
        status = 1
    if missing:
        print(f"FAIL  no search match and read for: {', '.join(missing)}")
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
