"""Offline commands around the pure core: solve, verify, explain, schema, demo-solver.

They read and write problem and plan files (JSON or YAML by extension) and need
no service.  Bad input exits with code 2, names the field and the id, and writes
no output file.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from scheduler.cli.policy import add_policy_option

console = Console()
err = Console(stderr=True)


def register(sub: Any) -> None:
    p = sub.add_parser("solve", help="solve a problem file into a plan")
    p.add_argument("problem")
    p.add_argument("--out", help="plan file to write (.json or .yaml); printed to stdout if omitted")
    add_policy_option(p)
    p.add_argument("--time-limit", type=float, default=30.0, help="seconds (default 30)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("verify", help="check a plan against every hard rule of its problem")
    p.add_argument("problem")
    p.add_argument("plan")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("explain", help="why a request got what it got, and what would change that")
    p.add_argument("problem")
    p.add_argument("plan")
    p.add_argument("request_id")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("schema", help="print the JSON Schema of the problem or plan file")
    p.add_argument("which", nargs="?", default="problem", choices=["problem", "plan"])
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("demo-solver", help="solve the bundled example problem and print the plan summary")
    p.add_argument("--time-limit", type=float, default=10.0)
    p.set_defaults(func=cmd_demo)


def cmd_solve(args: argparse.Namespace) -> int:
    from solver import SolveParams, solve
    from solver.files import InputError, dumps, load_problem, write

    try:
        problem = load_problem(args.problem)
        params = SolveParams(time_limit_s=args.time_limit, workers=args.workers, seed=args.seed)
    except (InputError, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    with console.status(f"solving {len(problem.requests)} requests ({args.policy}, {args.time_limit:g} s)"):
        plan = solve(problem, args.policy, params)
    if args.out:
        write(plan, args.out)
        print_summary(plan, Console(stderr=True))
    else:
        sys.stdout.write(dumps(plan))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from solver.files import InputError, load_plan, load_problem
    from solver.verify import verify

    try:
        problem, plan = load_problem(args.problem), load_plan(args.plan)
    except InputError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    violations = verify(problem, plan)
    if not violations:
        console.print(f"[green]valid[/green]: {len(plan.assignments)} assignments, {len(plan.rejected)} rejections, "
                      "every hard rule holds")
        return EXIT_OK
    table = Table("rule", "request", "where", "problem", title=f"{len(violations)} violations")
    for v in violations:
        table.add_row(str(v.rule), v.request or "", v.where, v.message)
    console.print(table)
    return EXIT_FAILED


def cmd_explain(args: argparse.Namespace) -> int:
    from solver.counterfactuals import counterfactual
    from solver.files import InputError, load_plan, load_problem

    try:
        problem, plan = load_problem(args.problem), load_plan(args.plan)
    except InputError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_BAD_INPUT
    assigned = {a.request: a for a in plan.assignments}
    rejected = {r.request: r for r in plan.rejected}
    rid = args.request_id
    if rid in assigned:
        a = assigned[rid]
        console.print(f"{rid} runs on {a.cluster} ({a.gpu_type}) in slots [{a.start_slot}, {a.end_slot}), "
                      f"{a.energy_kwh:.1f} kWh, {a.co2_kg:.1f} kg CO2e")
        return EXIT_OK
    if rid not in rejected:
        err.print(f"[red]error:[/red] request {rid!r} is in neither the problem's plan assignments nor rejections")
        return EXIT_BAD_INPUT
    rej = rejected[rid]
    console.print(f"{rid} was rejected: [bold]{rej.reason}[/bold] — {rej.detail}")
    placements = {a.request: (a.cluster, a.gpu_type, a.start_slot) for a in plan.assignments}
    cf = counterfactual(problem, placements, rid)
    console.print(f"counterfactual: {cf.text}" if cf else "no single change to the request would make it fit "
                  "beside the allocations in this plan")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from solver.plan import Plan
    from solver.problem import Problem

    model = Problem if args.which == "problem" else Plan
    sys.stdout.write(json.dumps(model.model_json_schema(), indent=2) + "\n")
    return EXIT_OK


def example_problem_path() -> Path:
    return Path(str(resources.files("solver").joinpath("examples/example.yaml")))


def cmd_demo(args: argparse.Namespace) -> int:
    from solver import SolveParams, solve
    from solver.files import load_problem
    from solver.policies import NAMES
    from solver.verify import verify

    path = example_problem_path()
    problem = load_problem(path)
    h = problem.horizon
    console.print(f"[bold]Allmende demo[/bold]: {path.name}, {len(problem.requests)} requests, "
                  f"{len(problem.clusters)} clusters, {h.slots} slots of {h.slot_minutes} min")
    for policy in NAMES:
        plan = solve(problem, policy, SolveParams(time_limit_s=args.time_limit))
        violations = verify(problem, plan)
        console.rule(f"policy {policy}: {'valid' if not violations else f'{len(violations)} VIOLATIONS'}")
        print_summary(plan, console)
    return EXIT_OK


def print_summary(plan: Any, out: Console) -> None:
    m, s = plan.metrics, plan.solver
    ratio = m.value / s.bound if s.bound > 0 else 1.0
    head = Table.grid(padding=(0, 2))
    head.add_row("status", s.status, "assigned / rejected", f"{m.assigned} / {m.rejected}")
    head.add_row("value", f"{m.value:,.1f}", "upper bound", f"{s.bound:,.1f} (value/bound {ratio:.3f})")
    head.add_row("min attainment", f"{m.min_attainment:.3f}", "Jain", f"{m.jain:.3f}")
    head.add_row("energy", f"{m.energy_mwh:,.2f} MWh", "emissions", f"{m.co2_t:,.3f} tCO2e")
    head.add_row("first plan", f"{s.first_plan_seconds:.2f} s", "total", f"{s.wall_seconds:.2f} s")
    out.print(head)
    cats = Table("category", "share", "demand h", "fair h", "got h", "attain", "assigned")
    for name, c in sorted(m.categories.items()):
        cats.add_row(name, f"{c.share:.2f}", f"{c.demand_work:,.0f}", f"{c.fair_share_work:,.0f}", f"{c.work:,.0f}",
                     f"{c.attainment:.3f}", f"{c.assigned}/{c.requests}")
    out.print(cats)
    if plan.rejected:
        reasons: dict[str, int] = {}
        for r in plan.rejected:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
        rt = Table("rejection reason", "requests", "example")
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            example = next(r for r in plan.rejected if r.reason == reason)
            rt.add_row(reason, str(n), f"{example.request}: {example.detail}")
        out.print(rt)
