"""deploy/: what can be checked without Docker or a cluster (neither runs here). Every YAML file
parses; the Kubernetes objects fit together (probes on the app's own paths and the container's
port, grace for the drain, non-root, selectors that match, two replicas wired to the Redis the
manifests define); compose runs two replicas on one Redis, each behind nginx, and gives the drain
its grace; nginx does not buffer streams; the Dockerfile runs as non-root, checks /health/live and
stops with SIGTERM. Where `kubectl` is installed, kustomize builds the manifests (offline)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient

from app.core.settings import Settings
from app.http.app import create_app
from tests.support import ROOT, ScriptedEngine

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
PORT = 8000
PROBES = {"/health/live", "/health/ready"}
GATEWAY, REDIS = "claude-gateway", "claude-gateway-redis"
KUBECTL = shutil.which("kubectl")


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def manifests(folder: Path = KUBERNETES) -> dict[tuple[str, str], dict]:
    """The Kubernetes objects of a folder, by (kind, name)."""
    objects: dict[tuple[str, str], dict] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, f"two {key} objects"
            objects[key] = doc
    return objects


def deployment(name: str = GATEWAY) -> dict:
    return manifests()[("Deployment", name)]


def container(name: str = GATEWAY) -> dict:
    (only,) = deployment(name)["spec"]["template"]["spec"]["containers"]
    return only


def compose() -> dict:
    (only,) = load(DEPLOY / "compose.yaml")
    return only


def gateway_services() -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items() if name.startswith("gateway")}


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
    (component,) = load(KUBERNETES / "shared-data" / "kustomization.yaml")
    assert component["kind"] == "Component"
    named = {*component["resources"], *(patch["path"] for patch in component["patches"])}
    assert named == {p.name for p in (KUBERNETES / "shared-data").glob("*.yaml")} - {"kustomization.yaml"}
    assert "#   - shared-data" in (KUBERNETES / "kustomization.yaml").read_text()  # how to turn it on


def test_probed_paths_are_served_by_the_app():
    client = TestClient(create_app(Settings(), engine=ScriptedEngine()))
    answers = {path: client.get(path).status_code for path in sorted(PROBES)}
    assert 404 not in answers.values(), answers  # ready may be 503 here (no CLI probe has run)


# --- Kubernetes ---------------------------------------------------------------------------------


def test_deployment_runs_replicas_with_rolling_updates():
    spec = deployment()["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert "ONE replica" in (KUBERNETES / "deployment.yaml").read_text()  # what to do without Redis


def test_replicas_share_the_redis_the_manifests_define():
    secret = manifests()[("Secret", GATEWAY)]["stringData"]
    assert container()["envFrom"] == [{"secretRef": {"name": GATEWAY}}]
    url = urlsplit(secret["GATEWAY_REDIS_URL"])
    assert url.scheme == "redis" and url.path == "/0"
    service = manifests()[("Service", url.hostname)]
    (port,) = service["spec"]["ports"]
    assert port["port"] == url.port
    (redis,) = deployment(REDIS)["spec"]["template"]["spec"]["containers"]
    assert redis["image"] == "redis:7-alpine"
    assert "--appendonly" in redis["args"] and redis["args"][redis["args"].index("--appendonly") + 1] == "yes"
    assert not any("maxmemory-policy" in arg for arg in redis["args"])  # noeviction: keys must stay
    ports = {p["name"]: p["containerPort"] for p in redis["ports"]}
    assert ports.get(port["targetPort"], port["targetPort"]) == 6379
    assert service["spec"]["selector"].items() <= deployment(REDIS)["spec"]["template"]["metadata"]["labels"].items()
    volumes = {v["name"]: v for v in deployment(REDIS)["spec"]["template"]["spec"]["volumes"]}
    (mount,) = redis["volumeMounts"]
    claim = volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]
    assert ("PersistentVolumeClaim", claim) in manifests()
    assert deployment(REDIS)["spec"]["strategy"]["type"] == "Recreate"  # one writer on a ReadWriteOnce volume


def test_only_the_gateway_pods_may_reach_the_trial_redis():
    policy = manifests()[("NetworkPolicy", REDIS)]["spec"]
    redis_labels = deployment(REDIS)["spec"]["template"]["metadata"]["labels"]
    gateway_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= redis_labels.items()
    (rule,) = policy["ingress"]
    (source,) = rule["from"]
    assert source["podSelector"]["matchLabels"].items() <= gateway_labels.items()
    assert not source["podSelector"]["matchLabels"].items() <= redis_labels.items()
    assert rule["ports"] == [{"port": 6379}]


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
    assert env(container()["env"])["GATEWAY_DATA_DIR"] == "/data/gateway"  # made 0700 inside the 0777 volume
    volumes = {v["name"]: v for v in deployment()["spec"]["template"]["spec"]["volumes"]}
    assert set(mounts.values()) <= set(volumes)
    # Chat mode with Redis: nothing in /data is needed by another pod, so each pod has its own.
    assert volumes[mounts["/data"]] == {"name": mounts["/data"], "emptyDir": {}}


def test_shared_data_component_puts_a_read_write_many_claim_on_data():
    objects = manifests(KUBERNETES / "shared-data")
    (patch,) = [o for key, o in objects.items() if key == ("Deployment", GATEWAY)]
    (volume,) = patch["spec"]["template"]["spec"]["volumes"]
    data = next(m["name"] for m in container()["volumeMounts"] if m["mountPath"] == "/data")
    assert volume["name"] == data
    assert "emptyDir" in volume and volume["emptyDir"] is None  # the base's source is removed
    claim = objects[("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_agent_mode_is_off_and_processes_are_sized_for_the_memory_limit():
    values = env(container()["env"])
    assert values["GATEWAY_AGENT_MODE"] == "false"
    limit = container()["resources"]["limits"]["memory"]
    assert limit.endswith("Gi")
    assert int(values["GATEWAY_MEMORY_BUDGET_MB"]) < int(limit[:-2]) * 1024
    assert int(values["GATEWAY_MAX_PROCESSES"]) * 220 <= int(values["GATEWAY_MEMORY_BUDGET_MB"])


def test_selectors_match_the_pods_labels():
    objects = manifests()
    gateway = deployment()["spec"]["template"]["metadata"]["labels"]
    redis = deployment(REDIS)["spec"]["template"]["metadata"]["labels"]
    for name in (GATEWAY, REDIS):
        labels = deployment(name)["spec"]["template"]["metadata"]["labels"]
        assert deployment(name)["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (spread,) = deployment()["spec"]["template"]["spec"]["topologySpreadConstraints"]
    for selector in (
        objects[("PodDisruptionBudget", GATEWAY)]["spec"]["selector"]["matchLabels"],
        objects[("Service", GATEWAY)]["spec"]["selector"],
        spread["labelSelector"]["matchLabels"],
    ):
        assert selector and selector.items() <= gateway.items()
        assert not selector.items() <= redis.items()  # the gateway's Service never sends to Redis


def test_service_targets_the_container_port():
    (port,) = manifests()[("Service", GATEWAY)]["spec"]["ports"]
    names = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert names.get(port["targetPort"], port["targetPort"]) == PORT


def test_pod_disruption_budget_keeps_a_replica_serving():
    spec = manifests()[("PodDisruptionBudget", GATEWAY)]["spec"]
    assert spec.get("maxUnavailable") == 1 and "minAvailable" not in spec
    assert deployment()["spec"]["replicas"] - spec["maxUnavailable"] >= 1


def test_prestop_and_probes_survive_in_the_replicas():
    spec = container()
    assert {"readinessProbe", "livenessProbe", "startupProbe"} <= set(spec)
    assert spec["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
@pytest.mark.parametrize("with_shared_data", [False, True], ids=["base", "shared-data"])
def test_kustomize_builds_the_manifests(tmp_path, with_shared_data):
    """kustomize (kubectl's, offline: no cluster) builds the base and the base with the component."""
    folder = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, folder)
    if with_shared_data:
        text = (folder / "kustomization.yaml").read_text()
        text = text.replace("# components:\n#   - shared-data", "components:\n  - shared-data")
        (folder / "kustomization.yaml").write_text(text)
    built = subprocess.run([KUBECTL, "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    objects = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built.stdout) if d}
    assert set(manifests()) <= set(objects)
    (data,) = [
        v for v in objects[("Deployment", GATEWAY)]["spec"]["template"]["spec"]["volumes"] if v["name"] == "data"
    ]
    if with_shared_data:
        assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "claude-gateway-data"}}
        assert ("PersistentVolumeClaim", "claude-gateway-data") in objects
    else:
        assert data == {"name": "data", "emptyDir": {}}


def test_secret_holds_the_keys_as_placeholders():
    secret = manifests()[("Secret", GATEWAY)]
    assert secret["metadata"]["name"] == container()["envFrom"][0]["secretRef"]["name"]
    data = secret["stringData"]
    assert {"GATEWAY_ADMIN_KEY", "GATEWAY_SECRET_KEY", "ANTHROPIC_API_KEY"} <= set(data)
    assert all("change-me" in data[k] for k in ("GATEWAY_ADMIN_KEY", "GATEWAY_SECRET_KEY", "ANTHROPIC_API_KEY"))


# --- compose and nginx --------------------------------------------------------------------------


def test_compose_runs_two_replicas_of_one_definition():
    services = gateway_services()
    assert sorted(services) == ["gateway-1", "gateway-2"]
    first, second = services.values()
    assert first == second
    assert "replicas" not in first.get("deploy", {}) and "scale" not in first
    assert "ONE replica" in (DEPLOY / "compose.yaml").read_text()  # what to do without Redis


def test_compose_gives_the_drain_its_grace():
    for gateway in gateway_services().values():
        assert gateway["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert (DEPLOY / gateway["build"]["context"] / gateway["build"]["dockerfile"]).is_file()
        assert gateway["stop_signal"] == "SIGTERM"
        assert seconds(gateway["stop_grace_period"]) > int(gateway["environment"]["GATEWAY_DRAIN_TIMEOUT"])
        assert gateway["environment"]["GATEWAY_AGENT_MODE"] == "false"
        assert "gateway-data:/data" in gateway["volumes"]


def test_compose_replicas_share_a_persistent_redis():
    services = compose()["services"]
    redis = services["redis"]
    assert redis["image"] == "redis:7-alpine"
    command = redis["command"]
    assert command[0] == "redis-server" and command[command.index("--appendonly") + 1] == "yes"
    assert not any("maxmemory-policy" in arg for arg in command)
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for gateway in gateway_services().values():
        url = urlsplit(gateway["environment"]["GATEWAY_REDIS_URL"])
        assert (url.scheme, url.hostname, url.port, url.path) == ("redis", "redis", 6379, "/0")
        assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    assert {v.split(":")[0] for v in redis["volumes"]} <= set(compose()["volumes"])


def test_compose_files_it_names_exist():
    assert (DEPLOY / "gateway.env.example").is_file()
    for gateway in gateway_services().values():
        assert gateway["env_file"] == ["gateway.env"]
    mounts = compose()["services"]["nginx"]["volumes"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in mounts
    depends = compose()["services"]["nginx"]["depends_on"]
    assert {name: d["condition"] for name, d in depends.items()} == dict.fromkeys(gateway_services(), "service_healthy")


def test_nginx_streams_unbuffered_to_every_replica():
    conf = nginx()
    assert re.search(r"^\s*proxy_buffering\s+off;", conf, re.M)
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)\s*;", conf, re.M)
    assert servers == [(name, str(PORT)) for name in gateway_services()]
    read_timeout = re.search(r"^\s*proxy_read_timeout\s+(\d+)s;", conf, re.M)
    assert read_timeout and int(read_timeout[1]) > Settings().request_timeout
    assert re.search(r"^\s*listen\s+8080;", conf, re.M)
    assert compose()["services"]["nginx"]["ports"] == [f"{PORT}:8080"]


def test_nginx_affinity_hashes_the_session_header_the_app_reads():
    conf = nginx()
    upstream = re.search(r"upstream\s+gateway\s*\{(.*?)\}", conf, re.S)[1]
    # An empty key (no header) is balanced round robin by nginx >= 1.17.1: no map needed.
    assert re.search(r"^\s*hash\s+\$http_x_session_id\s+consistent;", upstream, re.M)
    assert re.search(r"^\s*zone\s+\w+\s+\d+k;", upstream, re.M)  # one round robin for all workers
    assert 'headers.get("x-session-id")' in (ROOT / "app" / "doors" / "checks.py").read_text()


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
