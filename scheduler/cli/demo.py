"""``allmende demo``: the whole product on one machine (:mod:`scheduler.demo.run`); ``demo-solver`` solves only."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="the whole product: service, local Ray head, agents, a round, jobs, ledger")
    p.add_argument("--out", default="allmende-demo", help="folder for the database, logs and report "
                                                         "(default ./allmende-demo)")
    p.add_argument("--seconds-per-slot", type=float, default=3.0, help="compressed clock: seconds per slot (3)")
    p.add_argument("--time-limit", type=float, default=10.0, help="solver seconds (default 10)")
    p.add_argument("--keep-serving", action="store_true",
                   help="after the run, keep the service and its web console up until Ctrl-C")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from scheduler.demo.run import Options, main

    return main(Options(out=Path(args.out), seconds_per_slot=args.seconds_per_slot, time_limit_s=args.time_limit,
                        keep_serving=args.keep_serving))
