"""Runs the RP certification plans' modules against `sesame app` and writes the results.

    python conformance/rp/run.py --sesame-bin BIN --work DIR [--json FILE] [--markdown FILE]
        [--plans a,b] [--only module,module] [--workers N]

For each module: a test provider of ours (provider.py) with the module's faults on 127.0.0.1:0,
`sesame app` started against it with the options the plan needs, a browser driving a sign-in
(and logouts), then the suite's decision rule (harness.py). Prints one line per module
("PASS plan: module [variant]: note" / "FAIL …: why" / "SKIPPED …"); exits 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import modules
from harness import Env, Fail, NotApplicable, Skip
from plans import FP, PLANS
from provider import Keys


PRINT = threading.Lock()


def variant_label(v) -> str:
    if v.label:
        return v.label
    parts = [v.rt]
    if v.app_args[:2] == FP:
        parts.append("form_post")
    if v.dynamic:
        parts.append("dynamic registration")
    return ", ".join(parts)


def requests_seen(p) -> list[str]:
    if p is None:
        return []
    return [f"{e['method']} {e['path']}{' *' if e['seq'] == p.fault_seq else ''}" for e in p.log]


def jobs_for(plans):
    for p in plans:
        _title, variants = PLANS[p]
        for v, mods in variants:
            for name, fn in mods:
                yield p, name, v, fn


def run_one(env, job):
    p, name, v, fn = job
    t0 = time.time()
    modules.LAST.provider = None
    try:
        status, note = "PASS", fn(env, v) or ""
    except Fail as e:
        status, note = "FAIL", str(e)
    except Skip as e:
        status, note = "SKIPPED", str(e)
    except NotApplicable as e:
        status, note = "N/A", str(e)
    except Exception as e:  # noqa: BLE001 - a runner error is a failure to look at
        status, note = "FAIL", f"runner error: {type(e).__name__}: {e}"
        traceback.print_exc()
    row = {"plan": p, "module": name, "variant": variant_label(v), "status": status, "note": note,
           "seconds": round(time.time() - t0, 2),
           # what the provider received, in order (* marks the response that carried the fault)
           "requests": requests_seen(modules.LAST.provider)}
    with PRINT:
        print(f"{status} {p}: {name} [{row['variant']}]{': ' + note if note else ''}", flush=True)
    return row


def markdown(rows, plans) -> str:
    out = ["| plan | PASS | FAIL | other |", "|---|---|---|---|"]
    for p in plans:
        rs = [r for r in rows if r["plan"] == p]
        n = {s: sum(1 for r in rs if r["status"] == s) for s in ("PASS", "FAIL")}
        other = ", ".join(f"{sum(1 for r in rs if r['status'] == s)} {s}" for s in sorted({r["status"] for r in rs} - {"PASS", "FAIL"}))
        out.append(f"| {PLANS[p][0]} (`{p}`) | {n['PASS']} | {n['FAIL']} | {other} |")
    out.append("")
    for p in plans:
        rs = [r for r in rows if r["plan"] == p]
        out.append(f"### {PLANS[p][0]}: `{p}`\n")
        out.append("| module | variant | result | note |")
        out.append("|---|---|---|---|")
        for r in rs:
            note = r["note"].replace("|", "\\|").replace("\n", " ")
            out.append(f"| {r['module']} | {r['variant']} | {r['status']} | {note} |")
        out.append("")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sesame-bin", required=True)
    ap.add_argument("--work", required=True, help="a temporary directory (app logs, the RP's key)")
    ap.add_argument("--plans", default=",".join(PLANS))
    ap.add_argument("--only", help="run only these modules (comma-separated)")
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    plans = [p for p in a.plans.split(",") if p]
    env = Env(os.path.abspath(a.sesame_bin), Keys(), os.path.abspath(a.work))
    only = set(a.only.split(",")) if a.only else None
    jobs = [j for j in jobs_for(plans) if not only or j[1] in only]
    with ThreadPoolExecutor(max_workers=a.workers) as ex:
        rows = list(ex.map(lambda j: run_one(env, j), jobs))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(markdown(rows, [p for p in plans if any(r["plan"] == p for r in rows)]))
    counts: dict = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 1 if counts.get("FAIL") else 0


if __name__ == "__main__":
    sys.exit(main())
