"""The offline commands, run as a user runs them: the real ``allmende`` entry point in a child process.

solve -> verify -> explain on the bundled example; schema; demo-solver; both file formats; and the bad-input table,
where every case must exit with code 2, name the field and the offending id, and leave no output file behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from solver.files import load_plan, load_problem
from solver.verify import verify

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "solver" / "examples" / "example.yaml"
ENTRY = Path(sys.executable).with_name("allmende")


def allmende(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI; a wide COLUMNS keeps rich from wrapping messages, so they can be matched as printed."""
    command = [str(ENTRY)] if ENTRY.exists() else [sys.executable, "-c", "import sys; from scheduler.cli import main; "
                                                                         "sys.exit(main())"]
    env = os.environ | {"COLUMNS": "300", "NO_COLOR": "1"}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example solved once for the module: the directory holding plan.json."""
    where = tmp_path_factory.mktemp("solved")
    done = allmende("solve", str(EXAMPLE), "--out", "plan.json", "--time-limit", "3", cwd=where)
    assert done.returncode == 0, done.stderr
    return where


def test_solve_writes_a_plan_that_verify_accepts(solved: Path) -> None:
    plan = load_plan(solved / "plan.json")
    assert verify(load_problem(EXAMPLE), plan) == []
    assert plan.assignments and plan.rejected, "the example is overbooked: some run, some wait"
    done = allmende("verify", str(EXAMPLE), "plan.json", cwd=solved)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_verify_exits_1_and_lists_the_broken_rule(solved: Path) -> None:
    data = json.loads((solved / "plan.json").read_text())
    first = data["assignments"][0]
    data["assignments"].append(first)  # the same request twice, on the same GPUs
    (solved / "doubled.json").write_text(json.dumps(data))
    done = allmende("verify", str(EXAMPLE), "doubled.json", cwd=solved)
    assert done.returncode == 1
    assert first["request"] in done.stdout


def test_explain_prints_a_rejected_requests_reason(solved: Path) -> None:
    plan = load_plan(solved / "plan.json")
    rejected = plan.rejected[0]
    done = allmende("explain", str(EXAMPLE), "plan.json", rejected.request, cwd=solved)
    assert done.returncode == 0, done.stderr
    out = flat(done.stdout)
    assert f"{rejected.request} was rejected: {rejected.reason}" in out
    assert flat(rejected.detail) in out
    assert "counterfactual:" in out or "no single change" in out


def test_explain_prints_where_an_assigned_request_runs(solved: Path) -> None:
    a = load_plan(solved / "plan.json").assignments[0]
    done = allmende("explain", str(EXAMPLE), "plan.json", a.request, cwd=solved)
    assert done.returncode == 0, done.stderr
    where = f"{a.request} runs on {a.cluster} ({a.gpu_type}) in slots [{a.start_slot}, {a.end_slot})"
    assert where in flat(done.stdout)


def test_explain_an_unknown_request_is_bad_input(solved: Path) -> None:
    done = allmende("explain", str(EXAMPLE), "plan.json", "req-99999", cwd=solved)
    assert done.returncode == 2
    assert "req-99999" in done.stderr


@pytest.mark.parametrize("which", ["problem", "plan"])
def test_schema_prints_a_valid_json_schema(which: str, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    done = allmende("schema", which, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    if which == "problem":
        jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()), schema)
        assert {"horizon", "gpu_types", "clusters", "requests", "policy"} <= set(schema["properties"])
    else:
        assert {"assignments", "rejected", "metrics", "solver"} <= set(schema["properties"])


def test_demo_solves_the_bundled_example_under_both_policies(tmp_path: Path) -> None:
    done = allmende("demo-solver", "--time-limit", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = flat(done.stdout)
    assert "policy value: valid" in out
    assert "policy fair: valid" in out
    assert "VIOLATIONS" not in out


# Both file formats -------------------------------------------------------------------------------------------------

SMALL: dict[str, Any] = {
    "version": 1,
    "horizon": {"start": "2027-01-04T00:00:00Z", "slot_minutes": 60, "slots": 12},
    "gpu_types": {"H100": {"tdp_watts": 700}, "A100": {"tdp_watts": 400}},
    "clusters": [
        {"id": "jsc-booster", "country": "DE", "gpus": {"H100": 16}, "power_cap_kw": 11.2},
        {"id": "cineca-leo", "country": "IT", "gpus": {"A100": 8}, "carbon_intensity": 300},
    ],
    "requests": [
        {"id": "req-1", "org": "embl", "category": "research", "gpus": 8, "runtime_slots": {"H100": 3}, "merit": 0.9},
        {"id": "req-7", "org": "startup-x", "category": "industry", "gpus": 4, "runtime_slots": {"A100": 5}},
        {"id": "req-9", "org": "embl", "category": "research", "gpus": 16, "runtime_slots": {"A100": 2}},
    ],
    "policy": {"category_shares": {"research": 0.6, "industry": 0.4}},
}


@pytest.mark.parametrize(
    ("problem_file", "plan_file"),
    [
        pytest.param("small.yaml", "plan.yaml", id="YAML problem, YAML plan"),
        pytest.param("small.json", "plan.json", id="JSON problem, JSON plan"),
        pytest.param("small.yml", "plan.json", id=".yml problem, JSON plan"),
    ],
)
def test_yaml_and_json_files_both_work(problem_file: str, plan_file: str, tmp_path: Path) -> None:
    text = json.dumps(SMALL) if problem_file.endswith(".json") else yaml.safe_dump(SMALL)
    (tmp_path / problem_file).write_text(text)
    done = allmende("solve", problem_file, "--out", plan_file, "--time-limit", "1", "--policy", "value", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = load_plan(tmp_path / plan_file)
    assert {a.request for a in plan.assignments} == {"req-1", "req-7"}
    assert [(x.request, x.reason) for x in plan.rejected] == [("req-9", "capacity")]
    assert allmende("verify", problem_file, plan_file, cwd=tmp_path).returncode == 0


def test_solve_without_out_prints_the_plan_as_json(tmp_path: Path) -> None:
    (tmp_path / "small.json").write_text(json.dumps(SMALL))
    done = allmende("solve", "small.json", "--time-limit", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert {a["request"] for a in plan["assignments"]} | {x["request"] for x in plan["rejected"]} == {
        "req-1", "req-7", "req-9"}


# Bad input -------------------------------------------------------------------------------------------------------


def broken(edit: Any) -> str:
    data = json.loads(json.dumps(SMALL))
    edit(data)
    return yaml.safe_dump(data)


# (file name, file text, fragments stderr must contain, marks)
BAD = [
    pytest.param(
        "bad.yaml", broken(lambda d: d["requests"][1]["runtime_slots"].update(V100=2)),
        ["requests[id=req-7].runtime_slots", "unknown GPU type 'V100'"],
        id="unknown GPU type in a request",
    ),
    pytest.param(
        "bad.yaml", broken(lambda d: d["clusters"][0]["gpus"].update(H100=-1)),
        ["clusters[id=jsc-booster].gpus.H100", "greater than or equal to 0"],
        id="negative GPU count in a cluster",
    ),
    pytest.param(
        "bad.yaml", broken(lambda d: d["requests"][1].update(gpus=-4)),
        ["requests[id=req-7].gpus", "greater than 0"],
        id="negative gang size",
    ),
    pytest.param(
        "bad.yaml", broken(lambda d: d["requests"][1].update(earliest_slot=5, deadline_slot=3)),
        ["requests[id=req-7]", "deadline_slot (3) must be after earliest_slot (5)"],
        id="deadline before the earliest slot",
    ),
    pytest.param(
        "bad.yaml", broken(lambda d: d["requests"][2].update(id="req-1")),
        ["requests[id=req-1]", "duplicate id"],
        id="two requests with the id req-1",
    ),
    pytest.param(
        "bad.yaml", broken(lambda d: d["policy"]["category_shares"].update(industry=0.3)),
        ["policy.category_shares", "shares must sum to 1, got 0.9"],
        id="shares summing to 0.9",
    ),
    pytest.param(
        "bad.yaml", "horizon: {start: 2027-01-04T00:00:00Z, slots: 12\nclusters: [\n",
        ["bad.yaml", "not valid YAML"],
        id="a YAML syntax error",
    ),
    pytest.param(
        "bad.json", '{"horizon": {"slots": 12},',
        ["bad.json", "not valid JSON"],
        id="a JSON syntax error",
    ),
    pytest.param(
        "missing.yaml", None,
        ["missing.yaml", "No such file or directory"],
        id="a missing file",
    ),
]


Run = tuple[subprocess.CompletedProcess[str], Path]


@pytest.fixture(scope="module")
def solve_bad(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str | None], Run]:
    """``allmende solve`` on each bad file once, in a directory of its own; both bad-input tests read the result."""
    runs: dict[tuple[str, str | None], Run] = {}

    def run(name: str, text: str | None) -> Run:
        if (name, text) not in runs:
            where = tmp_path_factory.mktemp("bad")
            if text is not None:
                (where / name).write_text(text)
            done = allmende("solve", name, "--out", "plan.json", "--time-limit", "1", cwd=where)
            runs[(name, text)] = (done, where)
        return runs[(name, text)]

    return run


@pytest.mark.parametrize(("name", "text", "fragments"), [pytest.param(*p.values, id=p.id) for p in BAD])
def test_bad_input_exits_2_and_writes_no_plan(
    name: str, text: str | None, fragments: list[str], solve_bad: Callable[[str, str | None], Run]
) -> None:
    done, where = solve_bad(name, text)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error" in done.stderr
    assert done.stdout == ""
    assert [p.name for p in where.iterdir()] == ([] if text is None else [name]), "no plan, not even a .tmp"


@pytest.mark.parametrize(("name", "text", "fragments"), BAD)
def test_bad_input_names_the_field_and_the_id(
    name: str, text: str | None, fragments: list[str], solve_bad: Callable[[str, str | None], Run]
) -> None:
    done, _ = solve_bad(name, text)
    assert done.returncode == 2
    for fragment in fragments:
        assert fragment in flat(done.stderr)


def test_verify_and_explain_refuse_a_bad_problem_too(solved: Path) -> None:
    (solved / "bad.yaml").write_text(broken(lambda d: d["policy"]["category_shares"].update(industry=0.3)))
    assert allmende("verify", "bad.yaml", "plan.json", cwd=solved).returncode == 2
    assert allmende("explain", "bad.yaml", "plan.json", "req-1", cwd=solved).returncode == 2


def test_a_bad_time_limit_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "small.json").write_text(json.dumps(SMALL))
    done = allmende("solve", "small.json", "--out", "plan.json", "--time-limit", "-1", cwd=tmp_path)
    assert done.returncode == 2
    assert "time_limit_s" in done.stderr
    assert not (tmp_path / "plan.json").exists()
