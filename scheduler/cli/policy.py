"""The ``--policy`` option of ``solve`` and ``round open``: its choices are the solver's policies, by name.

The names come from :data:`solver.policies.POLICIES` when argparse first reads them (to check a value or print
help), not when the parser is built: importing the solver loads OR-Tools, half a second that ``allmende token list``
or ``allmende --help`` should not pay.  For the same reason the default is written here; a test holds it equal to
:data:`solver.policies.DEFAULT`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import cache
from typing import overload

DEFAULT = "fair"


@cache
def _names() -> tuple[str, ...]:
    from solver.policies import POLICIES

    return tuple(sorted(POLICIES))


class PolicyNames(Sequence[str]):
    """The sorted names of the solver's policies, looked up on first use."""

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return _names()[index]

    def __len__(self) -> int:
        return len(_names())


def add_policy_option(p: argparse.ArgumentParser) -> None:
    # Set after add_argument, which formats the option once (and would so read the names) to check its metavar.
    p.add_argument("--policy", default=DEFAULT).choices = PolicyNames()
