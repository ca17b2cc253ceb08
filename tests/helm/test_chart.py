"""The chart lints, renders valid objects for the default and a production-like install, and refuses bad values."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.settings import Settings
from tests.helm.chart import CHART, SECRET_SETTINGS, render, values

helm_python = pytest.importorskip("helm_python")

# Kinds of CRDs kubernetes-validate has no schema for; each is checked by its own test below.
FOREIGN = {("monitoring.coreos.com/v1", "ServiceMonitor")}
INSTALLS = [pytest.param(None, id="default values: SQLite on a volume"),
            pytest.param(values(), id="production: PostgreSQL, TLS, executor, agent, ServiceMonitor")]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_the_chart_lints_clean_with_both_values_files() -> None:
    for overrides in (None, values()):
        report = helm_python.lint(str(CHART), overrides, strict=True, kube_version="v1.30.0")
        assert report["errors"] == [], report
        assert [m for m in report["messages"] if m["severity"] >= 2] == [], report


@pytest.mark.parametrize("overrides", INSTALLS)
def test_every_rendered_object_is_valid_kubernetes(overrides: dict[str, Any] | None) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    objects = render(overrides)
    assert objects
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in FOREIGN:
            continue
        kubernetes_validate.validate(obj, "1.30", strict=True)


def test_the_production_install_has_every_part() -> None:
    objects = render(values())
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
            "ClusterRoleBinding", "Job", "NetworkPolicy", "ServiceMonitor"} <= kinds
    assert "PersistentVolumeClaim" not in kinds and "Secret" not in kinds  # existing Secrets, PostgreSQL
    job = by_kind(objects, "Job")[0]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    scheduler = next(d for d in by_kind(objects, "Deployment") if d["metadata"]["name"] == "allmende")
    container = scheduler["spec"]["template"]["spec"]["containers"][0]
    assert "exec" in container["readinessProbe"], "with TLS the kubelet's grpc probe cannot speak to the server"
    config = by_kind(objects, "ConfigMap")[0]["data"]
    assert config["ALLMENDE_EXECUTE"] == "clusters" and config["ALLMENDE_CLIENT_CA_FILE"] == "/etc/allmende/tls/ca.crt"


def test_default_install_probes_grpc_health_and_is_locked_down() -> None:
    objects = render()
    pod = by_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["livenessProbe"]["grpc"] == {"port": 50051}
    assert container["readinessProbe"]["grpc"] == {"port": 50051}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
    assert security["capabilities"]["drop"] == ["ALL"] and security["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    config = by_kind(objects, "ConfigMap")[0]["data"]
    assert config["ALLMENDE_HOST"] == "0.0.0.0" and config["ALLMENDE_DATABASE_URL"] == "sqlite:////data/allmende.db"
    assert not by_kind(objects, "Job"), "SQLite migrates at start-up: a hook Job could not mount the volume"


def test_the_executor_may_touch_rayjobs_in_its_namespaces_and_nothing_more() -> None:
    objects = render(values())
    roles = by_kind(objects, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["allmende-uni-a", "allmende-uni-b"]
    for role in roles:
        assert role["rules"] == [{"apiGroups": ["ray.io"], "resources": ["rayjobs"],
                                  "verbs": ["create", "get", "list", "watch", "delete", "patch"]}]
    cluster_rules = {r["metadata"]["name"]: r["rules"] for r in by_kind(objects, "ClusterRole")}
    assert cluster_rules == {
        "allmende-executor-observe": [{"apiGroups": ["ray.io"], "resources": ["rayjobs"], "verbs": ["list", "watch"]}],
        "allmende-agent": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}],
    }


def test_values_mirror_settings_one_to_one() -> None:
    chart_settings = set(values(CHART / "values.yaml")["settings"])
    expected = set(Settings.model_fields) - SECRET_SETTINGS
    assert sorted(expected - chart_settings) == [], "settings missing from values.yaml"
    assert sorted(chart_settings - expected) == [], "values that name no setting"


def test_the_configmap_starts_a_server() -> None:
    """What the ConfigMap says, the service accepts: every ALLMENDE_ variable loads as Settings."""
    from scheduler.settings import load

    config = by_kind(render(), "ConfigMap")[0]["data"]
    settings = load(environ=config)
    assert settings.host == "0.0.0.0" and settings.metrics_port == 9464 and settings.log_format == "json"


@pytest.mark.parametrize(("overrides", "message"), [
    pytest.param({"replicaCount": "two"}, "replicaCount", id="a wrong type"),
    pytest.param({"settings": {"prot": 50051}}, "prot", id="a misspelt setting"),
    pytest.param({"settings": {"execute": "everywhere"}}, "execute", id="a value no setting allows"),
    pytest.param({"databse": {"url": "postgresql://x"}}, "databse", id="an unknown top-level key"),
    pytest.param({"replicaCount": 3}, "replicaCount > 1 needs PostgreSQL", id="replicas with SQLite"),
    pytest.param({"executor": {"enabled": True}}, "executor.namespaces", id="an executor with nowhere to run"),
    pytest.param({"settings": {"execute": "clusters"}}, "executor.enabled", id="execution without its RBAC"),
    pytest.param({"tls": {"enabled": True}}, "tls.existingSecret", id="TLS without a certificate"),
])
def test_bad_values_fail_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError) as caught:
        render(overrides)
    assert message in str(caught.value)
