"""Allmende's allocation core: a Problem in, a Plan out, no I/O."""

from solver.params import SolveParams
from solver.plan import Assignment, Metrics, Plan, Progress, Rejection
from solver.problem import Cluster, GpuType, Horizon, PolicyConfig, Problem, Request, Unavailability
from solver.search import solve

__all__ = [
    "Assignment",
    "Cluster",
    "GpuType",
    "Horizon",
    "Metrics",
    "Plan",
    "PolicyConfig",
    "Problem",
    "Progress",
    "Rejection",
    "Request",
    "SolveParams",
    "Unavailability",
    "solve",
]
