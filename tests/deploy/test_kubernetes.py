"""deploy/k8s: strict schema validation offline, and the properties the design relies on.

kubernetes-validate ships the API's JSON schemas, so this needs no cluster and no network. The
manifests are checked against the oldest Kubernetes they support (1.30: the StatefulSet's
apps.kubernetes.io/pod-index label is on by default since 1.28) and the newest schemas shipped.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.settings import Settings
from tests.deploy.files import (
    APP_STOP_BOUND_SECONDS,
    DOCKERFILE,
    K8S,
    k8s_manifests,
    k8s_object,
    k8s_objects,
    load_yaml_documents,
)

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate (a dev dependency) is not installed"
)

OLDEST_SUPPORTED = "1.30"
NEWEST_SHIPPED = "1.37"
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"


def _documents() -> list[Any]:
    return [
        pytest.param(doc, id=f"{path.name}:{doc['kind']}/{doc['metadata']['name']}")
        for path in k8s_manifests()
        for doc in load_yaml_documents(path)
    ]


@pytest.mark.parametrize("version", [OLDEST_SUPPORTED, NEWEST_SHIPPED])
@pytest.mark.parametrize("document", _documents())
def test_every_manifest_is_valid_in_strict_mode(document: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)


def test_strict_validation_refuses_a_misspelt_field() -> None:
    """The check above can fail: a field the API does not know is an error, not ignored."""
    statefulset = k8s_object("StatefulSet", "habit-coach")
    broken = yaml.safe_load(yaml.safe_dump(statefulset))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, NEWEST_SHIPPED, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_and_names_the_image() -> None:
    """The Secret template stays out: each `apply -k` would reset the real Secret to it."""
    kustomization = load_yaml_documents(K8S / "kustomization.yaml")[0]
    expected = [p.name for p in k8s_manifests() if p.name != "secret.yaml"]
    assert sorted(kustomization["resources"]) == expected
    images = {image["name"] for image in kustomization["images"]}
    assert images == {c["image"] for c in _pod_spec_containers()}


def _pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = k8s_object("StatefulSet", "habit-coach")["spec"]["template"]["spec"]
    return spec


def _pod_spec_containers() -> list[dict[str, Any]]:
    spec = _pod_spec()
    return [*spec.get("initContainers", []), *spec["containers"]]


def _coach() -> dict[str, Any]:
    (coach,) = (c for c in _pod_spec()["containers"] if c["name"] == "coach")
    return coach


def test_every_container_reads_the_configmap_and_the_secret_by_their_names() -> None:
    names = {
        "configMapRef": k8s_object("ConfigMap")["metadata"]["name"],
        "secretRef": k8s_object("Secret")["metadata"]["name"],
    }
    for container in _pod_spec_containers():
        sources = {
            key: ref["name"] for source in container["envFrom"] for key, ref in source.items()
        }
        assert sources == names, container["name"]


def test_three_replicas_each_derive_their_discord_shard_from_the_ordinal() -> None:
    statefulset = k8s_object("StatefulSet", "habit-coach")
    config = k8s_object("ConfigMap", "habit-coach")["data"]
    assert statefulset["spec"]["replicas"] == 3
    assert int(config["DISCORD_SHARD_COUNT"]) == statefulset["spec"]["replicas"]
    shard_ids = {e["name"]: e for e in _coach()["env"]}["DISCORD_SHARD_IDS"]
    assert shard_ids["valueFrom"]["fieldRef"]["fieldPath"] == POD_INDEX


def test_replicas_together_stay_within_discords_request_limit() -> None:
    """Discord's 50 requests per second are per bot: each pod paces at its shard's share."""
    statefulset = k8s_object("StatefulSet", "habit-coach")
    config = k8s_object("ConfigMap", "habit-coach")["data"]
    replicas = statefulset["spec"]["replicas"]
    paces = [
        Settings(
            _env_file=None,
            discord_requests_per_second=float(config["DISCORD_REQUESTS_PER_SECOND"]),
            discord_shard_count=int(config["DISCORD_SHARD_COUNT"]),
            discord_shard_ids=(index,),
        )
        for index in range(replicas)
    ]
    together = sum(s.discord_requests_per_second * s.discord_pacing_share for s in paces)
    assert together <= 50


def test_migrations_run_once_per_pod_before_the_coach_and_never_at_once() -> None:
    statefulset = k8s_object("StatefulSet", "habit-coach")
    (migrate,) = _pod_spec()["initContainers"]
    assert migrate["command"] == ["habit-coach", "db", "upgrade"]
    assert _coach()["command"] == ["habit-coach", "run"]
    # OrderedReady starts (and updates) one pod at a time, after its predecessor is Ready.
    assert statefulset["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
    assert statefulset["spec"]["updateStrategy"]["type"] == "RollingUpdate"


def test_probes_use_the_apps_endpoints_on_the_named_port() -> None:
    coach = _coach()
    assert coach["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert coach["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert coach["startupProbe"]["httpGet"]["path"] == "/healthz"
    (port,) = coach["ports"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert coach[probe]["httpGet"]["port"] == port["name"]
    config = k8s_object("ConfigMap", "habit-coach")["data"]
    assert int(config["HTTP_PORT"]) == port["containerPort"]


def test_services_select_the_pods_and_reach_the_http_port() -> None:
    statefulset = k8s_object("StatefulSet", "habit-coach")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    services = [doc for doc in k8s_objects() if doc["kind"] == "Service"]
    assert statefulset["spec"]["serviceName"] in {s["metadata"]["name"] for s in services}
    for service in services:
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
        assert [p["port"] for p in service["spec"]["ports"]] == [8080]


def test_pods_run_unprivileged_on_a_read_only_root() -> None:
    spec = _pod_spec()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == _dockerfile_uid()
    assert spec["automountServiceAccountToken"] is False
    for container in _pod_spec_containers():
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"]["drop"] == ["ALL"], container["name"]
        assert {"requests", "limits"} <= container["resources"].keys(), container["name"]
        # Python and the SDKs may want a scratch directory; the root is read-only.
        assert "/tmp" in {m["mountPath"] for m in container.get("volumeMounts", [])}


def test_grace_period_covers_the_apps_graceful_stop() -> None:
    assert _pod_spec()["terminationGracePeriodSeconds"] > APP_STOP_BOUND_SECONDS


def test_the_pod_disruption_budget_keeps_two_of_three_serving() -> None:
    budget = k8s_object("PodDisruptionBudget", "habit-coach")
    assert budget["spec"]["maxUnavailable"] == 1
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector == k8s_object("StatefulSet", "habit-coach")["spec"]["selector"]["matchLabels"]


def _dockerfile_uid() -> int:
    users = [
        line.split(None, 1)[1].strip()
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if line.startswith("USER ")
    ]
    return int(users[-1].split(":")[0])
