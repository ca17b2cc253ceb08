"""Objectives, one module each, all with the signature of :class:`Policy`.

A policy decides what "better" means; the search decides how to look.  The same
objects serve the live scheduler and the simulations (as in Gavel).
"""

from __future__ import annotations

from solver.policies.base import Context, Policy
from solver.policies.fair import FAIR
from solver.policies.value import VALUE

POLICIES: dict[str, Policy] = {p.name: p for p in (FAIR, VALUE)}


def get(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(sorted(POLICIES))}") from None


__all__ = ["POLICIES", "Context", "Policy", "get"]
