"""The deployment files: Kubernetes manifests valid for the API schemas (offline, bundled by
kubernetes-validate), wired to real driftrec settings; the compose file healthy and scalable."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "ops" / "k8s"
# The oldest Kubernetes still commonly run and the newest the validator knows.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
# Resources of kinds outside the core API (no bundled schema); checked by hand below.
NOT_CORE = {"kustomization.yaml", "servicemonitor.yaml"}


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def _core_manifests() -> list[tuple[str, dict[str, Any]]]:
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name not in NOT_CORE)
    return [(name, doc) for name in files for doc in _docs(name)]


def _one(kind: str) -> dict[str, Any]:
    found = [doc for _, doc in _core_manifests() if doc["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} manifests"
    return found[0]


def _container() -> dict[str, Any]:
    containers = _one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_strictly(version: str) -> None:
    manifests = _core_manifests()
    assert {d["kind"] for _, d in manifests} >= {
        "ConfigMap",
        "Service",
        "StatefulSet",
        "PodDisruptionBudget",
        "Secret",
    }
    for _name, doc in manifests:
        kubernetes_validate.validate(doc, version, strict=True)  # raises with the reason


def test_the_validator_rejects_a_broken_statefulset() -> None:
    broken = copy.deepcopy(_one("StatefulSet"))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    typo = copy.deepcopy(_one("StatefulSet"))
    typo["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, VERSIONS[-1], strict=True)


def test_kustomization_lists_existing_files_and_not_the_example_secrets() -> None:
    kustomization = _docs("kustomization.yaml")[0]
    resources = kustomization["resources"]
    assert all((K8S / r).is_file() for r in resources)
    assert "secrets.example.yaml" not in resources
    assert {"configmap.yaml", "service.yaml", "statefulset.yaml"} <= set(resources)


def test_configmap_holds_only_real_and_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _one("ConfigMap")["data"]
    fields = {f"DRIFTREC_{name.upper()}" for name in Settings.model_fields}
    assert {k for k in data if k.startswith("DRIFTREC_")} - fields == set()
    env = {e["name"] for e in _container()["env"]}
    assert env - fields == set()
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DRIFTREC_KAFKA_SASL_USERNAME", "u")
    monkeypatch.setenv("DRIFTREC_KAFKA_SASL_PASSWORD", "p")
    settings = Settings()  # every value parses
    assert settings.web_host == "0.0.0.0"  # reachable by probes and Prometheus
    assert settings.kafka_security_protocol == "SASL_SSL"
    # A misspelt value in the ConfigMap is what the settings check catches.
    monkeypatch.setenv("DRIFTREC_KAFKA_SECURITY_PROTOCOL", "SASL-SSL")
    with pytest.raises(ValidationError):
        Settings()


def test_each_worker_keeps_its_tables_on_its_own_volume() -> None:
    sts = _one("StatefulSet")
    data = _one("ConfigMap")["data"]
    claims = {c["metadata"]["name"]: c for c in sts["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in _container()["volumeMounts"]}
    data_mount = mounts["data"]
    assert "data" in claims and claims["data"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert Path(data["DRIFTREC_DATA_DIR"]).is_relative_to(data_mount)
    assert Path(data["DRIFTREC_HOME"]).is_relative_to(data_mount)


def test_probes_scraping_and_headless_service_meet_the_worker() -> None:
    sts = _one("StatefulSet")
    service = _one("Service")
    data = _one("ConfigMap")["data"]
    container = _container()
    port = int(data["DRIFTREC_WEB_PORT"])
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "http"] == [port]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    annotations = sts["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == port
    assert service["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert container["resources"]["requests"].keys() >= {"cpu", "memory"}
    monitor = _docs("servicemonitor.yaml")[0]
    service_labels = service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels
    assert monitor["spec"]["endpoints"][0]["port"] == "http"


def test_kafka_secrets_reach_the_kafka_settings() -> None:
    sts = _one("StatefulSet")
    data = _one("ConfigMap")["data"]
    secrets = {d["metadata"]["name"]: d for _, d in _core_manifests() if d["kind"] == "Secret"}
    container = _container()
    for env in container["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["key"] in secrets[ref["name"]]["stringData"], env["name"]
    tls_volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if "secret" in v)
    tls_secret = secrets[tls_volume["secret"]["secretName"]]
    mount = next(m for m in container["volumeMounts"] if m["name"] == tls_volume["name"])
    assert mount["readOnly"] is True
    cafile = Path(data["DRIFTREC_KAFKA_SSL_CAFILE"])
    assert cafile.parent == Path(mount["mountPath"])
    assert cafile.name in tls_secret["stringData"]


def test_compose_has_healthchecks_and_can_scale_workers() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, service in services.items():
        assert "healthcheck" in service, name
    worker = services["worker"]
    assert "/health" in " ".join(worker["healthcheck"]["test"])
    # Replicas cannot share a fixed name, a single host port or one RocksDB volume.
    assert "container_name" not in worker
    for mapping in worker.get("ports", []):
        host_port = str(mapping).rsplit(":", 1)[0].rsplit(":", 1)[-1]
        assert "-" in host_port, f"{mapping}: one host port cannot serve several replicas"
    assert not any(not str(v).startswith("./") for v in worker.get("volumes", []))
    # Prometheus finds every replica by the service's DNS name.
    prom = yaml.safe_load((ROOT / "ops" / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "driftrec")
    assert job["dns_sd_configs"][0]["names"] == ["worker"]
