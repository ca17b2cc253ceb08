"""Objectives, one module each, all with the signature of :class:`Policy`.

A policy decides what "better" means; the search decides how to look.  The same
objects serve the live scheduler and the simulations (as in Gavel).  ``POLICIES``
is the one list of them: every name the CLI, the API and the scenarios accept
comes from it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from solver.policies.base import Context, Policy
from solver.policies.fair import FAIR
from solver.policies.value import VALUE

POLICIES: dict[str, Policy] = {p.name: p for p in (FAIR, VALUE)}
NAMES: tuple[str, ...] = tuple(POLICIES)
DEFAULT: str = FAIR.name


def get(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(sorted(POLICIES))}") from None


def _known(name: str) -> str:
    get(name)
    return name


PolicyName = Annotated[str, AfterValidator(_known)]
"""A field that names a registered policy; validation fails with the list of names."""


__all__ = ["DEFAULT", "NAMES", "POLICIES", "Context", "Policy", "PolicyName", "get"]
