"""Item 8: the smaller edges a newcomer found (those fixed in the service; the CLI's are in test_cli_edges)."""

from __future__ import annotations

import pytest

from scheduler.api.gen.allmende.v1 import inventory_pb2 as inv
from tests.scheduler.adversarial.conftest import World


@pytest.mark.parametrize("scheme", [
    pytest.param("Bearer", id="the usual spelling"),
    pytest.param("bearer", id="lowercase, as RFC 7235 allows"),
    pytest.param("BEARER", id="uppercase"),
])
def test_the_bearer_scheme_is_case_insensitive(scheme: str, world: World) -> None:
    token = world.operator[0][1].split(" ", 1)[1]
    found = world.stubs.inventory.ListClusters(inv.ListClustersRequest(),
                                               metadata=[("authorization", f"{scheme} {token}")])
    assert [c.cluster_id for c in found.clusters] == ["jsc"]


def test_audit_accepts_a_bare_round_id(world: World) -> None:
    world.submit("a")
    round_id = world.proposed_round(research=1.0)
    bare, qualified = world.audit(round_id), world.audit(f"round/{round_id}")
    assert bare and [e.seq for e in bare] == [e.seq for e in qualified]
