"""CONFORMANCE.md's tables from run.py's JSON results: Sesame, and the reference OP beside it.

    python conformance/report.py SESAME.json [REFERENCE.json REFERENCE-NAME] > tables.md
"""

from __future__ import annotations

import json
import sys

from plans import PLANS


def key(r):
    return (r["plan"], r["module"], r["response_type"], r["auth"])


def cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def main() -> int:
    ours = json.load(open(sys.argv[1]))
    ref = {key(r): r for r in json.load(open(sys.argv[2]))} if len(sys.argv) > 2 else None
    ref_name = sys.argv[3] if len(sys.argv) > 3 else "reference"
    out = ["## Summary\n", f"| plan | Sesame | {ref_name if ref is not None else ''} |" if ref is not None else "| plan | Sesame |",
           "|---|---|---|" if ref is not None else "|---|---|"]
    for plan in PLANS:
        rows = [r for r in ours if r["plan"] == plan]
        if not rows:
            continue
        def tally(sts):
            c = {}
            for st in sts:
                c[st] = c.get(st, 0) + 1
            return ", ".join(f"{n} {k}" for k, n in sorted(c.items()))
        line = f"| {plan} | {tally(r['status'] for r in rows)} |"
        if ref is not None:
            line += f" {tally(ref.get(key(r), {}).get('status', 'not run') for r in rows)} |"
        out.append(line)
    out.append("")
    for plan in PLANS:
        rows = [r for r in ours if r["plan"] == plan]
        if not rows:
            continue
        counts = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        out.append(f"## {plan}\n")
        line = "Sesame: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        if ref is not None:
            rc = {}
            for r in rows:
                st = ref.get(key(r), {}).get("status", "not run")
                rc[st] = rc.get(st, 0) + 1
            line += f"; {ref_name}: " + ", ".join(f"{n} {k}" for k, n in sorted(rc.items()))
        out.append(line + ".\n")
        if ref is not None:
            out.append(f"| module | variant | Sesame | note | {ref_name} | note |")
            out.append("|---|---|---|---|---|---|")
        else:
            out.append("| module | variant | result | note |")
            out.append("|---|---|---|---|")
        for r in rows:
            variant = ", ".join(x for x in (r["response_type"], r["auth"]) if x) if r["response_type"] else ""
            row = f"| {r['module']} | {variant} | {r['status']} | {cell(r['note'])} |"
            if ref is not None:
                x = ref.get(key(r))
                row += f" {x['status'] if x else 'not run'} | {cell(x['note']) if x else ''} |"
            out.append(row)
        out.append("")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
