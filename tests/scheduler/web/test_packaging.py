"""The console's templates and static files ship in the package (a wheel without them serves only errors)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "scheduler" / "web"


def test_every_template_and_static_file_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    mine = patterns.get("scheduler.web", []) + patterns.get("*", [])
    files = [p.relative_to(WEB).as_posix() for folder in ("templates", "static") for p in (WEB / folder).rglob("*")
             if p.is_file()]
    assert files
    missing = [f for f in files if not any(fnmatch(f, pattern) for pattern in mine)]
    assert not missing, f"not in [tool.setuptools.package-data] 'scheduler.web': {missing}"
