"""``-o table|wide|json|yaml``: how every ``list`` and ``show`` command prints what it got, in one place.

``table`` (the default) is a rich table of the columns that fit a terminal; ``wide`` adds the rest.  A table never
cuts a cell: every column folds what does not fit onto further lines, so an id can always be copied whole into the
next command, and no cell ever ends in an ellipsis.

``json`` is for scripts, and stable: it is the API message in the proto3 JSON mapping
(:func:`google.protobuf.json_format.MessageToDict`, field names in lowerCamelCase, as the API documents them).
The one rule:

- a ``show`` command prints the message it got, as a JSON object (``round show`` asks for two, and prints
  ``{"round": ..., "plan": ...}``, the plan ``null`` until the round has one or where the caller may not see it);
- a ``list`` command prints a JSON array of the items, from every page (page tokens are the client's business).

``yaml`` is the same data as YAML.  ``token list`` reads the database, not the API: its items are the stored
token records without their salt and hash.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import BaseModel
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "wide", "json", "yaml")
Justify = Literal["left", "right"]


def add_option(parser: argparse.ArgumentParser) -> None:
    """``-o/--output`` on a ``list`` or ``show`` command."""
    parser.add_argument("-o", "--output", choices=FORMATS, default="table",
                        help="table (default), wide (every column), json (the API message) or yaml")


def emit(args: argparse.Namespace, data: Any, table: Callable[[bool], None]) -> None:
    """Print ``data`` as ``args.output`` asks: ``table(wide)`` draws it for people, json and yaml write the data."""
    fmt = getattr(args, "output", "table")
    if fmt == "json":
        sys.stdout.write(json.dumps(as_data(data), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "yaml":
        sys.stdout.write(yaml.safe_dump(as_data(data), sort_keys=False, allow_unicode=True))
    else:
        table(fmt == "wide")


def as_data(value: Any) -> Any:
    """Messages as their proto3 JSON mapping, token records without their secrets, lists and dicts item by item."""
    if isinstance(value, Message):
        return json_format.MessageToDict(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude={"salt", "secret_hash"})
    if isinstance(value, dict):
        return {k: as_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_data(v) for v in value]
    return value


@dataclass(frozen=True)
class Col:
    """A table column; ``wide`` ones are shown only with ``-o wide``."""

    name: str
    wide: bool = False
    justify: Justify = "left"


def table(columns: Sequence[Col], rows: Iterable[Sequence[Any]], wide: bool, *, title: str | None = None,
          styles: Sequence[str | None] | None = None) -> Table:
    """A table of ``rows`` (one cell per column in ``columns``), narrowed to the non-wide columns unless ``wide``.

    Every column folds: a cell too long for its column continues on the next line, never cut.  Cells are shown as
    plain text (see :func:`scheduler.cli.tables.visible`), never read as markup.
    """
    from scheduler.cli.tables import visible

    keep = [i for i, c in enumerate(columns) if wide or not c.wide]
    out = Table(title=title, title_justify="left")
    for i in keep:
        out.add_column(columns[i].name, justify=columns[i].justify, overflow="fold")
    for n, cells in enumerate(rows):
        out.add_row(*(cells[i] if isinstance(cells[i], Text) else Text(visible(cells[i])) for i in keep),
                    style=styles[n] if styles else None)
    return out
