"""Prometheus answers (recorded DCGM exporter and Kepler series) -> mean watts of a busy GPU per type.

Recorded DCGM: on gpu-h100-01 two busy H100s (650.2 W, 590.0 W) and an idle one (71.3 W); a busy
H100 on gpu-h100-02 whose power sample is NaN (a scrape gap); on gpu-a100-01 a busy A100 (301 W)
and an idle one (55 W); an idle L40S (33 W).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from scheduler.agent.errors import AgentError
from scheduler.agent.kube import node_gpus
from scheduler.agent.power import DCGM_POWER, dcgm_watts, kepler_watts, product_key, query

RECORDED = Path(__file__).with_name("recorded")
LABELS = {"NVIDIA-H100-80GB-HBM3": "H100", "NVIDIA-A100-SXM4-40GB": "A100", "NVIDIA-L40S": "L40S"}


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / name).read_text())
    return data


@pytest.mark.parametrize(("util", "label_map", "want"), [
    pytest.param("dcgm_util.json", LABELS, {"A100": 301.0, "H100": 620.1},
                 id="only busy GPUs count, a NaN sample is skipped, an all-idle type is unmeasured"),
    pytest.param(None, LABELS, {"A100": 178.0, "H100": (650.2 + 590.0 + 71.3) / 3, "L40S": 33.0},
                 id="without utilisation every GPU counts"),
    pytest.param("dcgm_util.json", {"NVIDIA-H100-80GB-HBM3": "H100"}, {"H100": 620.1},
                 id="a model outside the label map is left out"),
])
def test_dcgm(util: str | None, label_map: dict[str, str], want: dict[str, float]) -> None:
    got = dcgm_watts(recorded("dcgm_power.json"), label_map, recorded(util) if util else None)
    assert got == pytest.approx(want)


def test_a_higher_busy_threshold_keeps_fewer_gpus() -> None:
    got = dcgm_watts(recorded("dcgm_power.json"), LABELS, recorded("dcgm_util.json"), busy_util_pct=90)
    assert got == pytest.approx({"H100": 650.2})


def test_dcgm_model_names_read_as_node_labels() -> None:
    assert product_key("NVIDIA H100 80GB HBM3") == "NVIDIA-H100-80GB-HBM3"
    assert product_key(" NVIDIA  L40S ") == "NVIDIA-L40S"


def test_kepler_divides_each_nodes_gpu_power_by_its_gpus() -> None:
    nodes = node_gpus(json.loads((RECORDED / "nodes.json").read_text())["items"], LABELS)
    got = kepler_watts(recorded("kepler_node_gpu.json"), nodes)
    # H100: (4480 + 3520) W over 16 GPUs; A100: 1000 W over 4; the L40S node used no GPU energy (idle);
    # the CPU-only node is not a GPU node.
    assert got == pytest.approx({"H100": 500.0, "A100": 250.0})


@pytest.mark.parametrize(("answer", "message"), [
    pytest.param({"status": "error", "errorType": "bad_data", "error": "parse error at char 5"},
                 "bad_data: parse error", id="a query Prometheus could not parse"),
    pytest.param({"status": "success", "data": {"resultType": "matrix", "result": []}},
                 "expected an instant vector", id="a range query's matrix"),
])
def test_answers_that_are_not_instant_vectors(answer: dict[str, Any], message: str) -> None:
    with pytest.raises(AgentError, match=message):
        dcgm_watts(answer, LABELS)


class _Prometheus(http.server.BaseHTTPRequestHandler):
    """Answers ``/api/v1/query`` with the recorded DCGM power series, and records the queries."""

    queries: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        from urllib.parse import parse_qs, urlparse

        url = urlparse(self.path)
        _Prometheus.queries.append(parse_qs(url.query)["query"][0])
        body = (RECORDED / "dcgm_power.json").read_bytes() if url.path == "/api/v1/query" else b"{}"
        self.send_response(200 if url.path == "/api/v1/query" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_query_asks_the_http_api(prometheus: str) -> None:
    answer = query(prometheus, DCGM_POWER)
    assert _Prometheus.queries[-1] == DCGM_POWER
    assert dcgm_watts(answer, LABELS)["A100"] == pytest.approx(178.0)


def test_a_wrong_prometheus_url_is_an_agent_error(prometheus: str) -> None:
    with pytest.raises(AgentError, match="Prometheus at"):
        query(prometheus + "nowhere/", DCGM_POWER)  # a path where Prometheus is not: HTTP 404
