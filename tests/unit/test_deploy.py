"""The container and deploy files (issue 17, #5), checked without a Docker engine or a
cluster, which this machine does not have: the Dockerfile by hadolint, compose.yaml by the
Compose Specification's schema, the Helm chart linted and rendered by Helm's own Go SDK
(helm-python-sdk) and every manifest it renders validated against Kubernetes' schemas
(kubernetes-validate), the systemd units by `systemd-analyze verify`; and every Herald
command any of them runs is a real command of this Herald."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from herald.cli import app

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "herald"
UNITS = ROOT / "deploy" / "systemd"
BIN = Path(sys.executable).parent
VALUES = {"secrets": {"secretKey": "0123456789abcdef" * 4,
                      "databaseUrl": "postgresql://herald:pw@postgres/herald"}}
KUBERNETES = "1.30.0"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (`make install` installs the dev tools)"
    return found


def _is_a_herald_command(args: list[str]) -> None:
    """Typer parses the command and its options (unknown ones fail) and prints its help."""
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, (args, result.output)


# --- Dockerfile -------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint():
    result = subprocess.run([_tool("hadolint"), "--failure-threshold", "info",
                             str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_user_and_checks_its_health():
    text = (ROOT / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM "):]  # the image's own stage
    users = re.findall(r"^USER (\S+)", final, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert re.search(r"^HEALTHCHECK .*CMD", final, re.M | re.S)
    assert "/healthz" in final
    entry = re.search(r'^ENTRYPOINT \["herald"\]', final, re.M)
    cmd = re.search(r"^CMD (\[.*\])", final, re.M)
    assert entry and cmd
    _is_a_herald_command(yaml.safe_load(cmd.group(1)))


def test_the_build_context_is_only_what_the_image_needs():
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*" and {"!pyproject.toml", "!README.md", "!herald/"} <= set(ignore)


# --- compose.yaml -----------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_yaml_follows_the_compose_specification(tmp_path):
    check = [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run([*check, str(ROOT / "compose.yaml")], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # The check does check: a misspelt key is refused.
    broken = tmp_path / "compose.yaml"
    broken.write_text((ROOT / "compose.yaml").read_text().replace("depends_on:",
                                                                  "depends_onn:", 1))
    assert subprocess.run([*check, str(broken)], capture_output=True).returncode != 0


def test_compose_runs_postgresql_migrations_the_api_and_two_workers():
    services = _compose()["services"]
    assert set(services) == {"db", "migrate", "serve", "worker"}
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["restart"] == "no"
    for role in ("serve", "worker"):
        assert services[role]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}}
        assert "media:/var/lib/herald/media" in services[role]["volumes"]
    assert services["worker"]["deploy"]["replicas"] == 2
    grace = int(services["worker"]["environment"]["HERALD_SHUTDOWN_GRACE"])
    assert int(services["worker"]["stop_grace_period"].removesuffix("s")) > grace
    for service in ("migrate", "serve", "worker"):
        _is_a_herald_command(services[service]["command"])


# --- the Helm chart ---------------------------------------------------------------------


def _render(values: dict[str, Any]) -> list[dict[str, Any]]:
    import helm_python as helm

    rendered = helm.Chart.load(str(CHART)).render(values, name="herald", namespace="herald",
                                                  is_install=True)
    return [doc for text in rendered.values() for doc in yaml.safe_load_all(text) if doc]


def _kinds(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def test_the_chart_passes_helm_lint():
    import helm_python as helm

    report = helm.lint(str(CHART), VALUES, strict=True, kube_version=f"v{KUBERNETES}")
    errors = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert errors == [], report


@pytest.mark.parametrize("extra", [{}, {"cron": {"enabled": True}, "worker": {"replicas": 0}},
                                   {"secrets": {"existingSecret": "mine"},
                                    "media": {"persistence": {"enabled": False}}}])
def test_every_rendered_manifest_is_valid_kubernetes(extra):
    import kubernetes_validate

    values = {**VALUES, **extra}
    if "secrets" in extra:
        values["secrets"] = {**VALUES["secrets"], **extra["secrets"]}
    docs = _render(values)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_chart_runs_each_role_as_the_issue_asks():
    docs = _kinds(_render(VALUES))
    serve = docs["Deployment/herald-serve"]["spec"]["template"]["spec"]
    [container] = serve["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    worker = docs["Deployment/herald-worker"]["spec"]["template"]["spec"]
    grace = {e["name"]: e["value"] for e in worker["containers"][0]["env"]}
    # Kubernetes waits out the worker's own shutdown grace, and more, before it kills.
    assert worker["terminationGracePeriodSeconds"] > int(grace["HERALD_SHUTDOWN_GRACE"])
    migrate = docs["Job/herald-migrate-1"]
    assert migrate["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert {"PodDisruptionBudget/herald-serve", "PodDisruptionBudget/herald-worker"} <= set(docs)
    for name, doc in docs.items():
        spec = _pod_spec(doc)
        if spec is None:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        [volume] = [v for v in spec["volumes"] if v["name"] == "secrets"]
        assert volume["secret"]["defaultMode"] & 0o004 == 0, name  # not world-readable
        for c in spec["containers"]:
            _is_a_herald_command(c["args"])
            env = {e["name"] for e in c["env"]}
            assert {"HERALD_SECRET_KEY_FILE", "HERALD_DATABASE_URL_FILE"} <= env, name
    cron = _kinds(_render({**VALUES, "cron": {"enabled": True}}))["CronJob/herald-run-once"]
    job = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["run-once"]


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template = spec.get("template")
    return None if template is None else template["spec"]


def test_the_chart_refuses_to_render_without_its_secrets():
    import helm_python as helm

    with pytest.raises(helm.HelmError, match=r"secrets\.secretKey is required"):
        _render({})


# --- systemd ----------------------------------------------------------------------------


def _units() -> list[Path]:
    return sorted(p for p in UNITS.iterdir() if p.suffix in (".service", ".timer"))


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    # As installed, with this Herald where the units expect /opt/herald, and the worker
    # template as one of its instances.
    for unit in _units():
        name = unit.name.replace("@.service", "@1.service")
        text = unit.read_text().replace("/opt/herald/bin/herald", str(BIN / "herald"))
        (tmp_path / name).write_text(text)
    result = subprocess.run([_tool("systemd-analyze"), "verify", "--man=no",
                             *sorted(str(p) for p in tmp_path.iterdir())],
                            capture_output=True, text=True, cwd=tmp_path)
    said = [line for line in (result.stdout + result.stderr).splitlines()
            # Units elsewhere on this machine that systemd reads too are not ours to judge.
            if any(u.name.split("@")[0] in line for u in _units())]
    assert result.returncode == 0 and said == [], result.stdout + result.stderr


def test_every_unit_runs_a_herald_command():
    commands = 0
    for unit in _units():
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                argv = shlex.split(line.removeprefix("ExecStart=").replace("%H-%i", "host-1"))
                assert argv[0] == "/opt/herald/bin/herald"
                _is_a_herald_command(argv[1:])
                commands += 1
    assert commands == 4
