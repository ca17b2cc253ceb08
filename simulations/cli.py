"""``allmende simulate`` and ``allmende sweep``: the shell around the pure simulation core.

Bad input (a scenario or grid that does not validate, an unknown ``--set`` path) exits with code 2 and
names the field; ``--trace philly`` without the trace in ``../shared/traces`` says so and skips (exit 0).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from scheduler.cli.exitcodes import EXIT_BAD_INPUT, EXIT_OK

console = Console(stderr=True)
DEFAULT_OUT = Path("sim-runs")


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="run a funding scenario over rolling rounds with the real solver")
    p.add_argument("scenario", help="scenario file (YAML), e.g. simulations/scenarios/status-quo.yaml")
    p.add_argument("--out", type=Path, help=f"output directory (default {DEFAULT_OUT}/<scenario>)")
    p.add_argument("--trace", choices=["philly"], help="replay a real trace instead of the demand model")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario field, e.g. --set weeks=4 --set policy.energy_share=0.4")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("sweep", help="run a grid of scenarios as Ray tasks (or serially)")
    p.add_argument("grid", help="grid file (YAML), e.g. simulations/scenarios/sweep-sme-energy.yaml")
    p.add_argument("--address", help="an existing Ray cluster (default: start a local instance)")
    p.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance (default 2)")
    p.add_argument("--serial", action="store_true", help="run every point in this process, without Ray")
    p.add_argument("--out", type=Path, help=f"output directory (default {DEFAULT_OUT}/<grid name>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a field of every point, e.g. --set weeks=2")
    p.set_defaults(func=cmd_sweep)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        path, sep, value = item.partition("=")
        if not sep or not path:
            raise ValueError(f"--set {item!r}: expected PATH=VALUE")
        out[path.strip()] = yaml.safe_load(value)
    return out


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulations.demand import DemandSource
    from simulations.metrics import summarise
    from simulations.report import write_run_report
    from simulations.runner import run
    from simulations.scenario import ScenarioError, load, variants
    from simulations.trace import PhillyReplay, locate

    try:
        runs_of = variants(load(args.scenario, parse_overrides(args.overrides)))
    except (ScenarioError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return EXIT_BAD_INPUT
    trace = None
    if args.trace:
        trace = locate(args.trace)
        if trace is None:
            console.print(f"[yellow]skipped:[/yellow] no {args.trace} trace under ../shared/traces next to the repo")
            return EXIT_OK
    first = next(iter(runs_of.values()))
    out = args.out or DEFAULT_OUT / (first.name.split(".")[0] + (f"-{args.trace}" if trace else ""))
    results, summaries = {}, {}
    with _progress() as bar:
        for name, scenario in runs_of.items():
            task = bar.add_task(name, total=scenario.rounds)
            source: DemandSource | None = PhillyReplay(scenario, trace) if trace else None
            if isinstance(source, PhillyReplay) and source.span_days < scenario.weeks * 7:
                console.print(f"note: the trace spans {source.span_days:.0f} days; later rounds get no new requests")
            try:
                result = run(scenario, source, on_round=_ticker(bar, task))
            except ScenarioError as exc:
                console.print(f"[red]error:[/red] {name}: {exc}")
                return EXIT_BAD_INPUT
            results[name], summaries[name] = result, summarise(result, scenario.sci)
    intro = first.description + (f" Demand replayed from the {args.trace} trace." if trace else "")
    path = write_run_report(results, summaries, out, intro)
    _print(summaries)
    console.print(f"report: {path}")
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulations.report import write_sweep_report
    from simulations.scenario import ScenarioError
    from simulations.sweep import load_grid, points, run_ray, run_serial

    try:
        grid, base = load_grid(args.grid)
        grid = grid.model_copy(update={"overrides": grid.overrides | parse_overrides(args.overrides)})
        todo = points(grid, base)
    except (ScenarioError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return EXIT_BAD_INPUT
    with _progress() as bar:
        task = bar.add_task(f"{grid.name} ({'serial' if args.serial else 'ray'})", total=len(todo))

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done)

        if args.serial:
            result = run_serial(todo, tick, name=grid.name)
        else:
            try:
                result = run_ray(todo, args.address, args.workers, tick, name=grid.name)
            except ImportError:
                console.print("[red]error:[/red] Ray is not installed: pip install 'allmende[ray]', or use --serial")
                return EXIT_BAD_INPUT
    path = write_sweep_report(result, list(grid.parameters), args.out or DEFAULT_OUT / grid.name)
    _print({f"{p.index}: " + ", ".join(f"{k}={v}" for k, v in p.params.items()): p.summary for p in result.points})
    console.print(f"{len(todo)} points in {result.wall_seconds:.1f} s ({result.mode}); report: {path}")
    return EXIT_OK


def _ticker(bar: Progress, task: TaskID) -> Callable[[int, int, Any], None]:
    def tick(done: int, total: int, record: Any) -> None:
        bar.update(task, completed=done)

    return tick


def _print(summaries: dict[str, Any]) -> None:
    table = Table()
    for name in ("run", "acceptance", "GPU-hours", "wait p90 (h)", "energy MWh", "tCO2", "SCI g/GPU-h", "Gini",
                 "top-10"):
        table.add_column(name, overflow="fold")  # a narrow terminal wraps names and figures, never cuts them
    for name, s in summaries.items():
        table.add_row(name, f"{s.acceptance:.1%}", f"{s.gpu_hours:,.0f}", f"{s.wait_p90_h:.1f}",
                      f"{s.energy_mwh:,.1f}", f"{s.co2_t:,.2f}", f"{s.sci_g_per_gpu_h:.1f}", f"{s.gini_orgs:.3f}",
                      f"{s.top10_share:.1%}")
    Console().print(table)
