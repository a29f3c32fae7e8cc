#!/usr/bin/env python3
"""Outside validation of yilian's FHIR JSON with PyPI `fhir.resources` 6.5.

Usage:
    fhir_validate.py [--require Claim,ClaimResponse,...] DIR_OR_FILE [...]

Every `*.json` file under each directory (recursively, sorted) must hold one
FHIR resource or a Bundle. Each file is:

1. parsed with the `fhir.resources` model its `resourceType` names
   (`get_fhir_model_class`; unknown elements, wrong types, missing required
   elements and bad codes of required bindings are pydantic errors);
2. for a Bundle, every `entry[i].resource` is also parsed on its own with
   its own model, so a failure names the entry;
3. round-tripped: model -> `.json()` -> parsed again must give the same
   `.dict()`;
4. compared with the original JSON: the model must have kept every element
   and value (nothing dropped or changed on the way in);
5. checked against the R4 value sets of the top-level `code` elements with
   a *required* binding (`Claim.status`, `ClaimResponse.outcome`,
   `AuditEvent.action`, ... — see REQUIRED_CODES), which the pydantic models
   do not check.

One line per file, then a count per resourceType (Bundle entries included).
Exit status 1 on any failure (the file and pydantic's error are printed),
when no file was found, or when a `--require`d resourceType was never seen.

Needs `fhir.resources==6.5` and `pydantic<2` (see scripts/fhir-validate.sh,
which makes its own virtual environment). Note: fhir.resources 6.5 carries
the FHIR 4.3.0 (R4B) models, not R4 4.0.1; the release with the R4 4.0.1
models is 6.1.0 (`FHIR_RESOURCES_VERSION=6.1.0 scripts/fhir-validate.sh`).
This script works with both and prints the FHIR version it checked against.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, List, Optional, Tuple

try:
    import fhir.resources as fr
    from fhir.resources import get_fhir_model_class
except ImportError:  # pragma: no cover - environment problem
    sys.stderr.write(
        "fhir_validate: needs fhir.resources==6.5 and pydantic<2 "
        "(run scripts/fhir-validate.sh, which installs them in target/fhir-venv)\n"
    )
    sys.exit(2)


FINANCIAL_STATUS = {"active", "cancelled", "draft", "entered-in-error"}
CLAIM_USE = {"claim", "preauthorization", "predetermination"}
REQUEST_INTENT = {
    "proposal", "plan", "directive", "order", "original-order", "reflex-order",
    "filler-order", "instance-order", "option",
}

# FHIR R4 (4.0.1) required bindings of top-level code elements, per resource.
REQUIRED_CODES = {
    "Bundle": {"type": {"document", "message", "transaction", "transaction-response",
                        "batch", "batch-response", "history", "searchset", "collection"}},
    "Patient": {"gender": {"male", "female", "other", "unknown"}},
    "Practitioner": {"gender": {"male", "female", "other", "unknown"}},
    "Encounter": {"status": {"planned", "arrived", "triaged", "in-progress", "onleave",
                             "finished", "cancelled", "entered-in-error", "unknown"}},
    "Observation": {"status": {"registered", "preliminary", "final", "amended", "corrected",
                               "cancelled", "entered-in-error", "unknown"}},
    "DiagnosticReport": {"status": {"registered", "partial", "preliminary", "final",
                                    "amended", "corrected", "appended", "cancelled",
                                    "entered-in-error", "unknown"}},
    "MedicationRequest": {
        "status": {"active", "on-hold", "cancelled", "completed", "entered-in-error",
                   "stopped", "draft", "unknown"},
        "intent": REQUEST_INTENT - {"directive"},
    },
    "ServiceRequest": {
        "status": {"draft", "active", "on-hold", "revoked", "completed",
                   "entered-in-error", "unknown"},
        "intent": REQUEST_INTENT,
    },
    "Task": {
        "status": {"draft", "requested", "received", "accepted", "rejected", "ready",
                   "cancelled", "in-progress", "on-hold", "failed", "completed",
                   "entered-in-error"},
        "intent": (REQUEST_INTENT - {"directive"}) | {"unknown"},
    },
    "Appointment": {"status": {"proposed", "pending", "booked", "arrived", "fulfilled",
                               "cancelled", "noshow", "entered-in-error", "checked-in",
                               "waitlist"}},
    "Slot": {"status": {"busy", "free", "busy-unavailable", "busy-tentative",
                        "entered-in-error"}},
    "Consent": {"status": {"draft", "proposed", "active", "rejected", "inactive",
                           "entered-in-error"}},
    "CareTeam": {"status": {"proposed", "active", "suspended", "inactive",
                            "entered-in-error"}},
    "EpisodeOfCare": {"status": {"planned", "waitlist", "active", "onhold", "finished",
                                 "cancelled", "entered-in-error"}},
    "Location": {"status": {"active", "suspended", "inactive"}, "mode": {"instance", "kind"}},
    "Coverage": {"status": FINANCIAL_STATUS},
    "Claim": {"status": FINANCIAL_STATUS, "use": CLAIM_USE},
    "ClaimResponse": {
        "status": FINANCIAL_STATUS,
        "use": CLAIM_USE,
        "outcome": {"queued", "complete", "error", "partial"},
    },
    "MeasureReport": {
        "status": {"complete", "pending", "error"},
        "type": {"individual", "subject-list", "summary", "data-collection"},
    },
    "AuditEvent": {"action": {"C", "R", "U", "D", "E"}, "outcome": {"0", "4", "8", "12"}},
}


class Failure(Exception):
    """A file that did not validate, with the reason."""


def files_of(paths: Iterable[str]) -> List[Path]:
    out: List[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(f for f in path.rglob("*.json") if f.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise SystemExit(f"fhir_validate: no such file or directory: {p}")
    return out


def model_of(resource: Any, where: str):
    if not isinstance(resource, dict):
        raise Failure(f"{where}: not a JSON object")
    rt = resource.get("resourceType")
    if not isinstance(rt, str) or not rt:
        raise Failure(f"{where}: no resourceType")
    try:
        return rt, get_fhir_model_class(rt)
    except KeyError:
        raise Failure(f"{where}: unknown resourceType {rt!r}") from None


def parse(klass, data: Any, where: str):
    try:
        return klass.parse_obj(data)
    except Exception as e:  # pydantic.ValidationError and friends
        raise Failure(f"{where}: {type(e).__name__}: {e}") from None


DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
)


def normal(v: Any) -> Any:
    """JSON values compared as FHIR means them: numbers by value, a
    dateTime with an offset as its instant (`Z` is `+00:00`)."""
    if isinstance(v, str) and DATE_TIME.match(v):
        try:
            return datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return v
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float, Decimal)):
        return Decimal(str(v)).normalize()
    if isinstance(v, list):
        return [normal(x) for x in v]
    if isinstance(v, dict):
        return {k: normal(x) for k, x in v.items()}
    return v


def first_difference(a: Any, b: Any, path: str) -> Optional[Tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                return (f"{path}.{k}", a[k], "<dropped>")
            if k not in a:
                return (f"{path}.{k}", "<absent>", b[k])
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return (path, f"{len(a)} items", f"{len(b)} items")
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else (path, a, b)


def check_resource(data: Any, where: str) -> Tuple[str, Any]:
    rt, klass = model_of(data, where)
    obj = parse(klass, data, where)
    for element, allowed in REQUIRED_CODES.get(rt, {}).items():
        v = data.get(element)
        if v is not None and v not in allowed:
            raise Failure(
                f"{where}: {rt}.{element} = {v!r} is not in its R4 value set "
                f"({', '.join(sorted(allowed))})"
            )
    # Round trip through the model's own JSON.
    again = parse(klass, json.loads(obj.json()), f"{where} (re-parse)")
    if again.dict() != obj.dict():
        d = first_difference(normal(obj.dict()), normal(again.dict()), rt)
        raise Failure(f"{where}: round trip changed the resource at {d}")
    # Nothing of the original lost or altered.
    d = first_difference(normal(data), normal(json.loads(obj.json())), rt)
    if d:
        raise Failure(
            f"{where}: the model did not keep the input at {d[0]}: {d[1]!r} -> {d[2]!r}"
        )
    return rt, obj


def check_file(path: Path, seen: Counter) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Failure(f"not JSON: {e}") from None
    rt, _ = check_resource(data, data.get("resourceType", "?") if isinstance(data, dict) else "?")
    local = Counter([rt])
    detail = ""
    if rt == "Bundle":
        kinds = []
        for i, entry in enumerate(data.get("entry") or []):
            res = entry.get("resource") if isinstance(entry, dict) else None
            if res is None:
                continue
            ert, _ = check_resource(res, f"Bundle.entry[{i}].resource")
            local[ert] += 1
            kinds.append(ert)
        detail = f" ({data.get('type', '?')}: {', '.join(kinds) or 'no resources'})"
    seen.update(local)
    return f"{rt}{detail}"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="directories of *.json (or single files)")
    ap.add_argument(
        "--require",
        default="",
        help="comma list of resourceTypes that must be seen (e.g. Claim,ClaimResponse)",
    )
    args = ap.parse_args(argv)

    files = files_of(args.paths)
    print(f"fhir.resources {fr.__version__} (FHIR {fr.__fhir_version__} models)")
    seen: Counter = Counter()
    failures = 0
    for f in files:
        try:
            what = check_file(f, seen)
            print(f"ok    {f}  {what}")
        except Failure as e:
            failures += 1
            print(f"FAIL  {f}: {e}")
    print()
    print(f"{len(files)} file(s), {failures} failed; resources by type:")
    for rt, n in sorted(seen.items()):
        print(f"  {rt:<24} {n}")
    status = 0
    if not files:
        print("FAIL  no *.json files found")
        status = 1
    required = [t.strip() for t in args.require.split(",") if t.strip()]
    missing = [t for t in required if seen[t] == 0]
    if missing:
        print(f"FAIL  required resourceType(s) never seen: {', '.join(missing)}")
        status = 1
    if failures:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
