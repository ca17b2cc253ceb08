"""Launcher for a gang larger than one node: reserve its GPUs as a placement group, then run the user's command.

``entrypoint_num_gpus`` reserves GPUs for a Ray job's driver on ONE node, so a job with more GPUs than the
largest node holds would stay PENDING forever.  :class:`~scheduler.execution.ray_jobs.RayJobsBackend` runs
such a job as ``python -m scheduler.execution.gang --gpus N --gpus-per-node G --resource cluster:x -- CMD``:
the launcher connects to the job's Ray cluster, creates a placement group that holds all N GPUs (and N of
the cluster's resource), waits for it up to ``--timeout`` seconds, then runs ``CMD`` through the shell with
the group's id in ``ALLMENDE_PLACEMENT_GROUP`` and exits with its code.  The group is the launcher's, so Ray
frees it when the launcher exits or the job is stopped.  A gang that is not placed in time fails the job
(exit code 3), rather than leaving it PENDING.

The user's program schedules its workers into the group by id::

    from ray._raylet import PlacementGroupID
    from ray.util.placement_group import PlacementGroup
    pg = PlacementGroup(PlacementGroupID(bytes.fromhex(os.environ["ALLMENDE_PLACEMENT_GROUP"])))

Assumption: Allmende is importable on the Ray cluster (installed in the cluster's image, or shipped with the
job's ``runtime_env={"py_modules": [scheduler]}``), with ``ray`` next to it.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Literal

PLACEMENT_GROUP_ENV = "ALLMENDE_PLACEMENT_GROUP"
NOT_PLACED_EXIT = 3

Strategy = Literal["STRICT_PACK", "PACK"]


@dataclass(frozen=True)
class Gang:
    """The placement group a gang needs: one bundle per node-sized share of its GPUs."""

    bundles: list[dict[str, int]]
    strategy: Strategy


def plan_gang(gpus: int, gpus_per_node: int, resource: str) -> Gang:
    """Bundles for ``gpus`` GPUs on nodes of ``gpus_per_node``: whole nodes first, then the remainder.

    A gang that fits on one node is one bundle, placed STRICT_PACK (all on that node).  A larger one gets a
    bundle per full node plus one for the rest, placed PACK: a full-node bundle fills its node anyway, and
    the remainder may share a node with nothing else of ours.  Each bundle also holds its GPUs' worth of
    ``resource`` (``cluster:<id>``), so the gang lands on the nodes of the cluster it was allocated.
    """
    if gpus < 1 or gpus_per_node < 1:
        raise ValueError(f"a gang needs at least one GPU on nodes of at least one GPU (got {gpus}, {gpus_per_node})")
    if gpus <= gpus_per_node:
        return Gang(bundles=[{"GPU": gpus, resource: gpus}], strategy="STRICT_PACK")
    full, rest = divmod(gpus, gpus_per_node)
    sizes = [gpus_per_node] * full + ([rest] if rest else [])
    return Gang(bundles=[{"GPU": n, resource: n} for n in sizes], strategy="PACK")


def command(python: str, gpus: int, gpus_per_node: int, resource: str, timeout_s: float, entrypoint: str) -> list[str]:
    """The launcher's argv for a job's entrypoint (the backend joins it into a shell command)."""
    return [python, "-m", "scheduler.execution.gang", "--gpus", str(gpus), "--gpus-per-node", str(gpus_per_node),
            "--resource", resource, "--timeout", f"{timeout_s:g}", "--", entrypoint]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler.execution.gang", description=__doc__.split("\n")[0])
    parser.add_argument("--gpus", type=int, required=True)
    parser.add_argument("--gpus-per-node", type=int, required=True)
    parser.add_argument("--resource", required=True, help="the cluster's custom resource, e.g. cluster:de-01")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the gang to be placed")
    parser.add_argument("entrypoint", help="the user's shell command, after --")
    args = parser.parse_args(argv)
    gang = plan_gang(args.gpus, args.gpus_per_node, args.resource)

    import ray
    from ray.util.placement_group import placement_group, remove_placement_group

    ray.init(logging_level=logging.WARNING, log_to_driver=False)
    group = placement_group(gang.bundles, strategy=gang.strategy)
    if not group.wait(timeout_seconds=args.timeout):
        remove_placement_group(group)
        print(f"allmende: a gang of {args.gpus} GPUs ({len(gang.bundles)} bundles, {gang.strategy}) of "
              f"{args.resource} was not placed within {args.timeout:g} s", file=sys.stderr, flush=True)
        return NOT_PLACED_EXIT
    print(f"allmende: gang of {args.gpus} GPUs placed as {len(gang.bundles)} bundles ({gang.strategy}), "
          f"placement group {group.id.hex()}", flush=True)
    env = os.environ | {PLACEMENT_GROUP_ENV: group.id.hex()}
    return subprocess.run(args.entrypoint, shell=True, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
