"""``make bench-console``: the round review page of a 10,000-request round, server time, beside baselines.

One run builds the round through the real store (SQLite in a temporary folder): the ``L`` benchmark
instance's clusters registered and its 10,000 requests submitted, a round opened, its problem
snapshot and solved to the first plan (no improvement phase: the page does not care how good the
plan is), the plan persisted by phase 3 as the service persists it (see :func:`populate`).

Then the console app is called in this process over httpx's ASGI transport, logged in with an
operator token, and each page is fetched ``--repeat`` times; with no network in between, the time
of a call is the server's time.  Beside the review page stand two baselines from the same run: the
progress JSON of the same round (authentication, session and one round read, nothing rendered) and
the review page of an empty round (the page's fixed cost).  Target: the review page under 1 s.

    python -m bench.console_bench [--size L] [--repeat 9] [--markdown docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.solver_bench import SEED, machine
from scheduler.access import Principal
from scheduler.api.auth import allowed
from scheduler.domain import ClusterRecord, RequestSpec, Role
from scheduler.phases import persist
from scheduler.phases import snapshot as snapshot_round
from scheduler.service import NewRound, Service
from scheduler.settings import Settings
from scheduler.solving import SolverRunner
from scheduler.store import Transaction, open_store
from scheduler.web.app import create_app
from simulations.workload import bench_problem
from solver import solve
from solver.params import SolveParams
from solver.problem import Problem

TARGET_S = 1.0
OPERATOR = Principal(id="bench-operator", role=Role.OPERATOR)


@dataclass(frozen=True)
class Timing:
    what: str
    path: str
    first_s: float  # the first call: caches cold (the titles a search reads)
    median_s: float
    p90_s: float
    kib: float


async def populate(service: Service, problem: Problem) -> tuple[str, str]:
    """The instance's clusters and requests through the service's store, and two rounds: (proposed, empty).

    The solved round goes through the service's own phases: :func:`scheduler.phases.snapshot` (the round's
    problem from the stored requests, each request joined to the round), the solver, :func:`scheduler.phases.persist`.
    """
    now = service.clock()
    by = OPERATOR.change("bench", now)
    for c in problem.clusters:
        types = {g: problem.gpu_types[g] for g in c.gpus}
        await service.register_cluster(OPERATOR, ClusterRecord(
            id=c.id, operator=c.operator, country=c.country, gpu_types=types, gpus=c.gpus,
            power_cap_kw=c.power_cap_kw, pue=c.pue, registered_at=now))

    def submit_all(t: Transaction) -> None:
        for i, q in enumerate(problem.requests):
            spec = RequestSpec(org=q.org, title=f"{q.category} study {i:05d} on {q.gpus} GPUs", category=q.category,
                               gpus=q.gpus, runtime_slots=q.runtime_slots, earliest_slot=q.earliest_slot,
                               deadline_slot=q.deadline_slot, countries=q.countries, merit=q.merit,
                               entrypoint=f"python train.py --run {i}")
            t.submit_request(spec, id=q.id, by=by)

    await service.store.write_async(submit_all)
    params = SolveParams(time_limit_s=60, workers=1, seed=SEED, deterministic=True, max_neighbourhoods=0,
                         lp_bound=False)
    new = NewRound(horizon=problem.horizon, objective="value", policy=problem.policy, params=params, reason="bench")
    opened = await service.open_round(OPERATOR, new)

    started = time.perf_counter()
    record = await service.store.write_async(lambda t: snapshot_round(t, OPERATOR, opened.id, "bench", now))
    print(f"phase 1 (snapshot of {len(problem.requests):,} requests): {time.perf_counter() - started:.1f} s")
    assert record.problem is not None
    snapshot = record.problem
    plan = await asyncio.to_thread(solve, snapshot, record.objective, params)
    await service.store.write_async(lambda t: persist(t, opened.id, plan, (), service.clock()))
    empty = await service.open_round(OPERATOR, new)
    return opened.id, empty.id


async def login(client: httpx.AsyncClient, bearer: str) -> None:
    """Log in as a browser does: the login form's CSRF token, then the token posted once."""
    page = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if csrf is None:
        raise SystemExit("the login page carries no CSRF token")
    done = await client.post("/login", data={"token": bearer, "csrf": csrf.group(1), "next": "/"})
    if done.status_code != 303:
        raise SystemExit(f"login failed: {done.status_code}")


async def timed(client: httpx.AsyncClient, what: str, path: str, repeat: int) -> Timing:
    seconds, size = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        response = await client.get(path)
        seconds.append(time.perf_counter() - t)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
        size = len(response.content)
    first = seconds[0]
    seconds.sort()
    p90 = seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))]
    return Timing(what, path, first, statistics.median(seconds), p90, size / 1024)


async def measure(size: str, repeat: int) -> tuple[int, list[Timing], float]:
    problem = bench_problem(size, SEED)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        service = Service(store, Settings(solver_executor="thread"), runner=SolverRunner("thread"))
        try:
            t = time.perf_counter()
            solved, empty = await populate(service, problem)
            setup = time.perf_counter() - t
            bearer = store.write(lambda tx: tx.create_token(Role.OPERATOR, by=OPERATOR.change("token", service.clock()),
                                                            name="bench-operator")).bearer
            app = create_app(service, allowed)
            search_page = 2 if len(problem.requests) > 2_000 else 1  # a smaller round has one page of matches
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as client:
                await login(client, bearer)
                timings = [
                    await timed(client, "review page, first 200 rows", f"/rounds/{solved}", repeat),
                    await timed(client, f"review page, search + sort, page {search_page}",
                                f"/rounds/{solved}?q=university&sort=-energy&page={search_page}", repeat),
                    await timed(client, "baseline: progress JSON, same round", f"/rounds/{solved}/progress.json",
                                repeat),
                    await timed(client, "baseline: review page, empty round", f"/rounds/{empty}", repeat),
                ]
        finally:
            await service.close()
            store.close()
    return len(problem.requests), timings, setup


def render(requests: int, timings: list[Timing], markdown: bool) -> str:
    head = "| page | first call s | median server s | p90 s | response KiB | target |"
    lines = [head, "|---|---|---|---|---|---|"]
    for t in timings:
        target = "" if t.what.startswith("baseline") else ("✓ < 1 s" if t.median_s < TARGET_S else "✗ ≥ 1 s")
        lines.append(f"| {t.what} | {t.first_s:.3f} | {t.median_s:.3f} | {t.p90_s:.3f} | {t.kib:,.0f} | {target} |")
    table = "\n".join(lines)
    if not markdown:
        return table
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"## Web console (`make bench-console`)\n\nMachine: {machine()}; load average at the end {load} "
            "(the server time grows with the load: it is CPU-bound). The round review page of a "
            f"{requests:,}-request round (the `L` solver instance, seed {SEED}, stored in SQLite through the service "
            "and solved to its first plan), fetched in-process over httpx's ASGI transport as a logged-in operator: "
            "the time of a call is the server's time. Median of the repeats; the first call is shown apart because a "
            "search reads every title of the round once per round version (the page itself reads only the titles "
            f"of the rows it shows). The baselines come from the same run.\n\n{table}\n")


def update_markdown(path: Path, text: str) -> None:
    """Replace the table part of the '## Web console' section (or append it); a '### ' reading after it stays."""
    doc = path.read_text(encoding="utf-8")
    start = doc.find("## Web console")
    if start < 0:
        path.write_text(doc.rstrip() + "\n\n" + text, encoding="utf-8")
        return
    ends = [i for i in (doc.find("\n### ", start), doc.find("\n## ", start + 1)) if i >= 0]
    end = min(ends) if ends else len(doc)
    path.write_text(doc[:start] + text.rstrip() + "\n" + doc[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="L", choices=("S", "M", "L", "X"))
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--markdown", type=Path, help="replace the '## Web console' section of this file")
    args = parser.parse_args(argv)
    requests, timings, setup = asyncio.run(measure(args.size, args.repeat))
    print(f"{requests:,} requests stored and solved in {setup:.0f} s", file=sys.stderr)
    print(render(requests, timings, markdown=False))
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}", file=sys.stderr)
    if args.markdown:
        update_markdown(args.markdown, render(requests, timings, markdown=True))
    slow = [t for t in timings if not t.what.startswith("baseline") and t.median_s >= TARGET_S]
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
