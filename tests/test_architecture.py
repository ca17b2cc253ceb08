"""The house's floors, checked: which package may import which, and no module past 500 lines.

``docs/architecture.md`` draws the same picture; this test keeps the drawing true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("solver", "scheduler", "simulations", "bench", "support", "tests")
MAX_LINES = 500

# room -> rooms of ours it must never import (prefix match on the imported module)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "solver": ("scheduler", "simulations", "bench", "support", "tests"),
    "scheduler": ("simulations", "bench", "support", "tests"),
    "scheduler.store": ("scheduler.usecases", "scheduler.service", "scheduler.api", "scheduler.cli",
                        "scheduler.execution", "scheduler.agent", "scheduler.demo", "scheduler.web"),
    "scheduler.usecases": ("scheduler.service", "scheduler.api", "scheduler.cli", "scheduler.execution",
                           "scheduler.agent", "scheduler.demo", "scheduler.web"),
    "scheduler.execution": ("scheduler.usecases", "scheduler.service", "scheduler.api", "scheduler.cli",
                            "scheduler.agent", "scheduler.demo", "scheduler.web"),
    # the web console is a transport beside the gRPC API: it reaches the service, never the API (whose
    # role table it is handed by the composition root), the execution loop or an entry point
    "scheduler.web": ("scheduler.api", "scheduler.cli", "scheduler.execution", "scheduler.agent", "scheduler.demo"),
    "scheduler.agent": ("scheduler.usecases", "scheduler.service", "scheduler.store", "scheduler.execution"),
    "simulations": ("scheduler.api", "scheduler.store", "scheduler.usecases", "scheduler.execution", "bench"),
}


def modules() -> list[tuple[str, Path]]:
    out = []
    for package in ("solver", "scheduler", "simulations", "bench", "support"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "gen" in path.relative_to(ROOT).parts:
                continue
            out.append((".".join(path.relative_to(ROOT).with_suffix("").parts), path))
    return out


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m.split(".")[0] in OURS}


def _under(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_point_down(module: str, path: Path) -> None:
    rooms = [room for room in FORBIDDEN if _under(module, room)]
    wrong = sorted(
        f"{module} imports {imported} (no import from {room} to {banned})"
        for room in rooms for imported in imports(path) for banned in FORBIDDEN[room] if _under(imported, banned)
    )
    assert not wrong, "\n".join(wrong)


def test_no_module_passes_500_lines() -> None:
    long = {m: n for m, p in modules() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these: {long}"


def test_the_forbidden_table_names_real_rooms() -> None:
    names = {m for m, _ in modules()} | {"tests"}
    for room, banned in FORBIDDEN.items():
        for name in (room, *banned):
            assert any(_under(m, name) for m in names), f"{name} is not a module or package"
