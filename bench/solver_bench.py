"""``make bench``: the solver against the merit-order greedy and the LP bound, at four sizes, in one run.

Each (size, policy) solve runs in a child process so its peak memory is its own.
Rows print side by side with the baselines from the same run: greedy value (merit
order and FIFO), the certified LP bound, the solver's value under the ``value``
policy, and min attainment, Jain and value under the ``fair`` policy, with the
stability figures the plans report (wasted requests under both policies, justified
complaints under ``fair``; targets 0).  Every plan is checked with the independent
verifier's hard rules (its time is printed beside the solve's: at X, 25,000 requests on
40 clusters over 336 slots); a violation fails the run.

    python -m bench.solver_bench [--sizes S,M,L,X] [--quick] [--markdown docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

BUDGET = {"S": 30.0, "M": 30.0, "L": 120.0, "X": 300.0}  # seconds per policy, from the issue
FIRST_PLAN_TARGET = {"S": 1.0, "M": 2.0, "L": 5.0, "X": 10.0}
VALUE_TARGET = {"S": 0.90, "M": 0.96, "L": 0.96, "X": 0.96}  # issue 10
FAIR_VALUE_TARGET = {"S": 0.90, "M": 0.95, "L": 0.95, "X": 0.95}
SEED = 0


def one(size: str, policy: str, budget: float) -> dict[str, Any]:
    """Solve one instance in this process and report its figures (called in a child process)."""
    from simulations.workload import bench_problem, demand_ratio
    from solver import SolveParams, solve
    from solver.greedy import baseline
    from solver.index import compile_problem
    from solver.metrics import fits_alone
    from solver.policies import Context, get
    from solver.search import decode
    from solver.verify import verify

    t = time.perf_counter()
    problem = bench_problem(size, SEED)  # type: ignore[arg-type]
    build = time.perf_counter() - t
    out: dict[str, Any] = {"size": size, "policy": policy, "requests": len(problem.requests),
                           "clusters": len(problem.clusters), "slots": problem.horizon.slots,
                           "demand_ratio": demand_ratio(problem), "build_s": build}
    if policy == "baselines":
        index = compile_problem(problem)
        ctx = Context.build(index, fits_alone(index))
        for name in ("merit", "fifo"):
            t = time.perf_counter()
            plan = decode(ctx, baseline(index, name), get("value"))
            out[name] = {"value": plan.metrics.value, "min_attainment": plan.metrics.min_attainment,
                         "jain": plan.metrics.jain, "energy_mwh": plan.metrics.energy_mwh,
                         "seconds": time.perf_counter() - t, "violations": len(verify(problem, plan))}
        return out
    plan = solve(problem, policy, SolveParams(time_limit_s=budget, workers=1, seed=SEED))
    t = time.perf_counter()
    violations = len(verify(problem, plan))
    verify_s = time.perf_counter() - t
    m, s = plan.metrics, plan.solver
    out.update(value=m.value, bound=s.bound, min_attainment=m.min_attainment, jain=m.jain, energy_mwh=m.energy_mwh,
               co2_t=m.co2_t, first_plan_s=s.first_plan_seconds, total_s=s.wall_seconds, stages=s.stages,
               status=s.status, violations=violations, verify_s=verify_s, wasted=m.wasted,
               complaints=m.justified_complaints, held_back=m.held_back,
               peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def run_child(size: str, policy: str, budget: float) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.solver_bench", "--one", size, policy, str(budget)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{size}/{policy} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| size | requests × clusters × slots | demand/capacity | greedy value (merit) | greedy/bound | "
            "FIFO/bound | solver value (`value`) | upper bound | value/bound | `fair` min attainment | `fair` Jain | "
            "`value` wasted | `fair` wasted, complaints | `fair` value / `value` value | energy MWh (value / fair) "
            "| first valid plan s | total s (value / fair) | verify s (value / fair) "
            "| peak MiB | violations |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        b, v, f = r["baselines"], r["value"], r["fair"]
        bound = v["bound"]
        ok = "✓" if v["value"] / bound >= VALUE_TARGET[r["size"]] else "✗"
        fa = "✓" if f["min_attainment"] >= 0.95 else "✗"
        fv = f["value"] / v["value"] if v["value"] else 0.0
        fp = max(v["first_plan_s"], f["first_plan_s"])
        lines.append(
            f"| {r['size']} | {b['requests']:,} × {b['clusters']} × {b['slots']} | {b['demand_ratio']:.2f} "
            f"| {b['merit']['value']:,.0f} | {b['merit']['value'] / bound:.3f} | {b['fifo']['value'] / bound:.3f} "
            f"| {v['value']:,.0f} | {bound:,.0f} | {v['value'] / bound:.3f} {ok} | {f['min_attainment']:.3f} {fa} "
            f"| {f['jain']:.3f} | {v['wasted']} {'✓' if v['wasted'] == 0 else '✗'} "
            f"| {f['wasted']}, {f['complaints']} {'✓' if f['wasted'] + f['complaints'] == 0 else '✗'} "
            f"| {fv:.3f} {'✓' if fv >= FAIR_VALUE_TARGET[r['size']] else '✗'} "
            f"| {v['energy_mwh']:,.1f} / {f['energy_mwh']:,.1f} "
            f"| {fp:.2f} {'✓' if fp <= FIRST_PLAN_TARGET[r['size']] else '✗'} "
            f"| {v['total_s']:.0f} / {f['total_s']:.0f} | {v['verify_s']:.1f} / {f['verify_s']:.1f} "
            f"| {max(v['peak_mib'], f['peak_mib']):,.0f} "
            f"| {b['merit']['violations'] + b['fifo']['violations'] + v['violations'] + f['violations']} |")
    held = [f"- {r['size']}: {r['fair']['held_back']}" for r in rows if r["fair"].get("held_back")]
    return "\n".join(lines + (["", "Where `fair` min attainment stays below 0.95, the plan says what holds it back:",
                                *held] if held else []))


def machine() -> str:
    import os

    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("ortools", "numpy", "pydantic"))
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {versions}, "
            f"{time.strftime('%Y-%m-%d')}")


def update_markdown(path: Path, text: str) -> None:
    """Replace the table part of the solver section; a '### ' subsection after it (the reading) stays."""
    doc = path.read_text(encoding="utf-8")
    start = doc.index("## Solver")
    end = min(i for i in (doc.find("\n### ", start), doc.find("\n## ", start + 1)) if i >= 0)
    path.write_text(doc[:start] + text.rstrip() + "\n" + doc[end:], encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", nargs=3, metavar=("SIZE", "POLICY", "BUDGET"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="S,M,L,X")
    parser.add_argument("--quick", action="store_true", help="a tenth of each time budget (a smoke run)")
    parser.add_argument("--markdown", type=Path, help="replace the '## Solver' section of this file")
    args = parser.parse_args()
    if args.one:
        size, policy, budget = args.one
        print(json.dumps(one(size, policy, float(budget))))
        return 0
    rows = []
    for size in args.sizes.split(","):
        budget = BUDGET[size] / (10 if args.quick else 1)
        row = {"size": size}
        for policy in ("baselines", "value", "fair"):
            print(f"{size}: {policy} (budget {budget:g} s) ...", file=sys.stderr, flush=True)
            row[policy] = run_child(size, policy, budget)
        rows.append(row)
    bad = sum(r[p]["violations"] for r in rows for p in ("value", "fair"))
    out = table(rows)
    text = (f"## Solver (`make bench`)\n\nMachine: {machine()}. Seed {SEED}; CP-SAT with 1 worker (the default); "
            f"time budget per policy S/M {BUDGET['S']:.0f} s, L {BUDGET['L']:.0f} s, X {BUDGET['X']:.0f} s"
            f"{' divided by 10 (--quick)' if args.quick else ''}.\n\n{out}\n")
    print(text)
    if args.markdown:
        update_markdown(args.markdown, text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
