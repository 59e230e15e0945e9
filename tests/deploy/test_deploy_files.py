"""deploy/: what can be checked without Docker or a cluster (neither runs here). Every YAML file
parses; the Kubernetes objects fit together (probes on the app's own paths and the container's
port, grace for the drain, non-root, selectors that match); compose gives the drain its grace;
nginx does not buffer streams; the Dockerfile runs as non-root, checks /health/live and stops
with SIGTERM."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from app.config import Settings
from app.server import create_app
from tests.support import ROOT, ScriptedEngine

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
PORT = 8000
PROBES = {"/health/live", "/health/ready"}


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def manifests() -> dict[str, dict]:
    """The Kubernetes objects, by kind (one of each)."""
    objects: dict[str, dict] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in load(path):
            assert doc["kind"] not in objects, f"two {doc['kind']} objects"
            objects[doc["kind"]] = doc
    return objects


def deployment() -> dict:
    return manifests()["Deployment"]


def container() -> dict:
    (only,) = deployment()["spec"]["template"]["spec"]["containers"]
    return only


def env(entries: list[dict]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in entries if "value" in e}


def seconds(duration: str | int) -> float:
    """A compose duration: 45s, 1m30s, 90."""
    if isinstance(duration, int):
        return duration
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, duration
    return int(parts[1] or 0) * 60 + int(parts[2] or 0)


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def image_env() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, args in final_stage():
        if name == "ENV":
            found |= dict(word.split("=", 1) for word in shlex.split(args))
    return found


def nginx() -> str:
    return "\n".join(line.split("#", 1)[0] for line in (DEPLOY / "nginx.conf").read_text().splitlines())


# --- every file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path):
    assert load(path)


def test_kustomization_lists_every_manifest():
    (kustomization,) = load(KUBERNETES / "kustomization.yaml")
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def test_probed_paths_are_served_by_the_app():
    client = TestClient(create_app(Settings(), engine=ScriptedEngine()))
    answers = {path: client.get(path).status_code for path in sorted(PROBES)}
    assert 404 not in answers.values(), answers  # ready may be 503 here (no CLI probe has run)


# --- Kubernetes ---------------------------------------------------------------------------------


def test_deployment_has_one_replica_until_redis_support():
    assert deployment()["spec"]["replicas"] == 1
    assert "issue 14" in (KUBERNETES / "deployment.yaml").read_text()


def test_probes_use_the_health_paths_on_the_container_port():
    spec = container()
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports == {"http": PORT}
    assert env(spec["env"])["GATEWAY_PORT"] == str(PORT)
    assert env(spec["env"])["GATEWAY_HOST"] == "0.0.0.0"
    assert spec["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/health/live"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        port = spec[probe]["httpGet"]["port"]
        assert ports.get(port, port) == PORT, probe


def test_termination_grace_covers_prestop_and_drain():
    pod = deployment()["spec"]["template"]["spec"]
    drain = int(env(container()["env"])["GATEWAY_DRAIN_TIMEOUT"])
    command = container()["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] >= drain + int(command[1]) + 5


def test_pod_runs_as_the_images_non_root_user():
    pod = deployment()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    uid = pod["securityContext"]["runAsUser"]
    assert uid != 0
    useradd = next(args for name, args in final_stage() if name == "RUN" and "useradd" in args)
    assert f"--uid {uid}" in useradd
    assert container()["securityContext"]["allowPrivilegeEscalation"] is False
    assert container()["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_writable_folders_are_mounted_under_a_read_only_root():
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"/data", "/tmp", "/home/gateway"} <= set(mounts)
    assert env(container()["env"])["GATEWAY_DATA_DIR"] == "/data"
    volumes = {v["name"]: v for v in deployment()["spec"]["template"]["spec"]["volumes"]}
    assert set(mounts.values()) <= set(volumes)
    claim = volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"]
    assert claim == manifests()["PersistentVolumeClaim"]["metadata"]["name"]


def test_agent_mode_is_off_and_processes_are_sized_for_the_memory_limit():
    values = env(container()["env"])
    assert values["GATEWAY_AGENT_MODE"] == "false"
    limit = container()["resources"]["limits"]["memory"]
    assert limit.endswith("Gi")
    assert int(values["GATEWAY_MEMORY_BUDGET_MB"]) < int(limit[:-2]) * 1024
    assert int(values["GATEWAY_MAX_PROCESSES"]) * 220 <= int(values["GATEWAY_MEMORY_BUDGET_MB"])


def test_selectors_match_the_pods_labels():
    objects = manifests()
    labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for selector in (
        objects["Deployment"]["spec"]["selector"]["matchLabels"],
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        objects["Service"]["spec"]["selector"],
    ):
        assert selector and selector.items() <= labels.items()


def test_service_targets_the_container_port():
    (port,) = manifests()["Service"]["spec"]["ports"]
    names = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert names.get(port["targetPort"], port["targetPort"]) == PORT


def test_pod_disruption_budget_lets_one_replica_move():
    spec = manifests()["PodDisruptionBudget"]["spec"]
    assert spec.get("maxUnavailable") == 1 and "minAvailable" not in spec


def test_secret_holds_the_keys_as_placeholders():
    secret = manifests()["Secret"]
    assert secret["metadata"]["name"] == container()["envFrom"][0]["secretRef"]["name"]
    data = secret["stringData"]
    assert {"GATEWAY_ADMIN_KEY", "GATEWAY_SECRET_KEY", "ANTHROPIC_API_KEY"} <= set(data)
    assert all("change-me" in data[k] for k in ("GATEWAY_ADMIN_KEY", "GATEWAY_SECRET_KEY", "ANTHROPIC_API_KEY"))


# --- compose and nginx --------------------------------------------------------------------------


def test_compose_gives_the_drain_its_grace():
    (compose,) = load(DEPLOY / "compose.yaml")
    gateway = compose["services"]["gateway"]
    assert gateway["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (DEPLOY / gateway["build"]["context"] / gateway["build"]["dockerfile"]).is_file()
    assert gateway["stop_signal"] == "SIGTERM"
    assert seconds(gateway["stop_grace_period"]) > int(gateway["environment"]["GATEWAY_DRAIN_TIMEOUT"])
    assert gateway["environment"]["GATEWAY_AGENT_MODE"] == "false"
    assert "gateway-data:/data" in gateway["volumes"]
    assert "replicas" not in gateway.get("deploy", {}) and "scale" not in gateway


def test_compose_files_it_names_exist():
    (compose,) = load(DEPLOY / "compose.yaml")
    assert (DEPLOY / "gateway.env.example").is_file()
    assert compose["services"]["gateway"]["env_file"] == ["gateway.env"]
    mounts = compose["services"]["nginx"]["volumes"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in mounts
    assert compose["services"]["nginx"]["depends_on"]["gateway"]["condition"] == "service_healthy"


def test_nginx_streams_unbuffered_to_the_gateway_port():
    conf = nginx()
    assert re.search(r"^\s*proxy_buffering\s+off;", conf, re.M)
    assert re.search(rf"^\s*server\s+gateway:{PORT}\b", conf, re.M)
    read_timeout = re.search(r"^\s*proxy_read_timeout\s+(\d+)s;", conf, re.M)
    assert read_timeout and int(read_timeout[1]) > Settings().request_timeout
    assert re.search(r"^\s*listen\s+8080;", conf, re.M)
    (compose,) = load(DEPLOY / "compose.yaml")
    assert compose["services"]["nginx"]["ports"] == [f"{PORT}:8080"]


def test_nginx_affinity_hashes_the_session_header_the_app_reads():
    conf = nginx()
    assert re.search(r"map\s+\$http_x_session_id\s+\$gateway_affinity", conf)
    assert re.search(r"hash\s+\$gateway_affinity\s+consistent;", conf)
    assert 'headers.get("x-session-id")' in (ROOT / "app" / "api" / "checks.py").read_text()


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_runs_as_non_root_and_stops_with_sigterm():
    stage = final_stage()
    users = [args for name, args in stage if name == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert ("STOPSIGNAL", "SIGTERM") in stage
    assert ("EXPOSE", str(PORT)) in stage
    assert stage[-1] == ("CMD", '["python", "main.py"]')


def test_dockerfile_healthcheck_probes_live():
    (healthcheck,) = [args for name, args in final_stage() if name == "HEALTHCHECK"]
    assert "/health/live" in healthcheck
    assert "urllib.request" in healthcheck and "curl" not in healthcheck


def test_dockerfile_listens_everywhere_with_data_on_a_volume():
    values = image_env()
    assert values["GATEWAY_HOST"] == "0.0.0.0"
    assert values["GATEWAY_PORT"] == str(PORT)
    assert values["GATEWAY_DATA_DIR"] == "/data"
    assert ("VOLUME", '["/data"]') in final_stage()


def test_dockerfile_installs_the_run_time_packages():
    apt = " ".join(args for name, args in final_stage() if name == "RUN" and "apt-get install" in args)
    for package in ("bubblewrap", "socat", "util-linux"):
        assert package in apt.split()
    assert dockerfile()[0][1].startswith("${PYTHON_IMAGE}") or "python:3.11-slim" in dockerfile()[0][1]
    (arg,) = [args for name, args in dockerfile() if name == "ARG" and args.startswith("PYTHON_IMAGE=")]
    assert arg.startswith("PYTHON_IMAGE=python:3.11-slim")


def test_dockerfile_copies_files_that_exist_and_are_not_ignored():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git", "tests/e2e/node_ai_sdk/node_modules"} <= ignored
    for name, args in dockerfile():
        if name == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source not in ignored and source.split("/")[0] not in ignored, source
    assert any(name == "RUN" and "deploy/install.sh" in args for name, args in dockerfile())
