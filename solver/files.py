"""Problem and plan files in JSON or YAML, with errors that name the field and the id.

Pydantic reports ``requests.3.gpus``; people who wrote the file think in ids, so
list positions are turned into ``requests[id=req-0004].gpus`` wherever the item
at that position has an id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from solver.plan import Plan
from solver.problem import Problem

M = TypeVar("M", bound=BaseModel)


class InputError(ValueError):
    """A file that cannot be read as the model it claims to be; the message is for people."""


def parse_text(text: str, suffix: str) -> Any:
    try:
        if suffix.lower() in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"not valid {'YAML' if suffix.lower() in ('.yaml', '.yml') else 'JSON'}: {exc}") from exc


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc, data)) from exc


def load(model: type[M], path: str | Path) -> M:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{p}: {exc.strerror}") from exc
    try:
        return validate(model, parse_text(text, p.suffix))
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from exc


def load_problem(path: str | Path) -> Problem:
    return load(Problem, path)


def load_plan(path: str | Path) -> Plan:
    return load(Plan, path)


def dumps(model: BaseModel, suffix: str = ".json") -> str:
    data = model.model_dump(mode="json", exclude_none=False)
    if suffix.lower() in (".yaml", ".yml"):
        return str(yaml.safe_dump(data, sort_keys=False))
    return json.dumps(data, indent=2) + "\n"


def write(model: BaseModel, path: str | Path) -> None:
    """Write atomically: a reader never sees half a plan."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(dumps(model, p.suffix), encoding="utf-8")
    tmp.replace(p)


def describe(exc: ValidationError, data: Any) -> str:
    lines = []
    for err in exc.errors():
        loc = _readable_loc(err["loc"], data)
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(lines)


def _readable_loc(loc: tuple[int | str, ...], data: Any) -> str:
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            ident = item.get("id") if isinstance(item, dict) else None
            out += f"[id={ident}]" if isinstance(ident, str) else f"[{part}]"
            node = item
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out
