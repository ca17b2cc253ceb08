"""``--static FILE``: the shipped example parses, and every mistake names its field."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from scheduler.agent.errors import AgentError
from scheduler.agent.static import parse_static, read_static

EXAMPLE = resources.files("scheduler.examples") / "agent-static.yaml"


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return data


def test_the_shipped_example_describes_a_full_inventory() -> None:
    inv = parse_static(example())
    assert inv.gpus == {"H100": 8, "A100": 16}
    window = ("H100", 4, datetime(2025, 3, 4, 2, tzinfo=UTC))
    assert [(w.gpu_type, w.gpus, w.start) for w in inv.unavailable] == [window]
    assert inv.carbon is not None and len(inv.carbon.values) == 24 and inv.carbon.values[0] == 210
    assert inv.gpu_power_w == {"H100": 612.5, "A100": 341.0}


def test_gpus_alone_is_enough_and_carbon_stays_unknown() -> None:
    inv = parse_static({"gpus": {"H100": 2}})
    assert inv.carbon is None and inv.unavailable == [] and inv.gpu_power_w == {}


def edit(**changes: Any) -> dict[str, Any]:
    data = example()
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


WINDOW = {"gpu_type": "H100", "gpus": 2, "start": datetime(2025, 3, 4, 6, tzinfo=UTC)}


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(["H100: 8"], "expected a mapping", id="a list instead of a mapping"),
    pytest.param(edit(gpu=4), "unknown field(s) gpu", id="a misspelt field"),
    pytest.param(edit(gpus=None), "gpus: is required", id="no gpus"),
    pytest.param(edit(gpus={"H100": -1}), "gpus.H100: Input should be greater than or equal to 0",
                 id="a negative GPU count"),
    pytest.param(edit(gpus={"H100": "eight"}), "gpus.H100: Input should be a valid integer", id="a count in words"),
    pytest.param(edit(withdrawals=[{**WINDOW, "end": datetime(2025, 3, 4, 2, tzinfo=UTC)}]),
                 "withdrawals.0: end must be after start", id="a window that ends before it starts"),
    pytest.param(edit(withdrawals=[{**WINDOW, "end": datetime(2025, 3, 4, 8)}]),
                 "withdrawals.0.end: Input should have timezone info", id="a time without a zone"),
    pytest.param(edit(carbon={"start": datetime(2025, 3, 3, tzinfo=UTC), "values": []}),
                 "carbon.values: List should have at least 1 item", id="an empty carbon forecast"),
    pytest.param(edit(carbon={"start": datetime(2025, 3, 3, tzinfo=UTC), "values": [200, float("inf")]}),
                 "carbon.values.1: Input should be a finite number", id="an infinite carbon intensity"),
    pytest.param(edit(gpu_power_w={"H100": float("inf")}), "gpu_power_w.H100: Input should be a finite number",
                 id="infinite power"),
    pytest.param(edit(gpu_power_w={"H100": -5}), "gpu_power_w.H100: Input should be greater than or equal to 0",
                 id="negative power"),
])
def test_mistakes_name_their_field(data: Any, message: str) -> None:
    with pytest.raises(AgentError) as caught:
        parse_static(data, "site.yaml")
    assert str(caught.value).startswith("site.yaml: ")
    assert message in str(caught.value)


def test_a_file_that_is_not_yaml_or_not_there(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("gpus: {H100: 8\n")
    with pytest.raises(AgentError, match=r"broken\.yaml"):
        read_static(broken)
    with pytest.raises(AgentError, match=r"missing\.yaml"):
        read_static(tmp_path / "missing.yaml")
