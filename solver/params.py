"""Solver parameters: how long and how hard to search, never what to optimise."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class SolveParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_s: Annotated[float, Field(gt=0)] = 30.0
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    seed: Annotated[int, Field(ge=0)] = 0
    # CP-SAT deterministic time per neighbourhood; with one worker the whole solve is
    # then reproducible, whatever the machine's load (google/or-tools#2159).
    neighbourhood_dtime: Annotated[float, Field(gt=0)] = 1.0
    deterministic: bool = False
    # Stop after this many neighbourhoods (None: only the time limit stops the search).
    max_neighbourhoods: Annotated[int, Field(ge=0)] | None = None
    lp_bound: bool = True
