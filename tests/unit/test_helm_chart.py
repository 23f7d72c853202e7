"""The Helm chart and the Dockerfile, checked statically: no helm binary and no Docker engine needed.

- every `BITEWING_*` key the chart sets is a variable the application reads;
- every `.Values.a.b` (and tier-relative `$tier.a.b`) reference in a template exists in values.yaml;
- every Deployment, Job and CronJob runs a real `bitewing` command, parsed by the CLI's own click objects;
- the migrate Job is a pre-install/pre-upgrade hook that runs as the database owner, and only it does;
- the Dockerfile installs every workspace member from the lock and ships the migrations.
The checks are functions returning the problems they find, and they are tested on broken input too.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from bitewing.core.cli import main
from bitewing.core.config import ENV_PREFIX, Settings, load_settings
from bitewing.core.db.migrations import MIGRATIONS_ENV
from bitewing.core.db.rls import APP_ROLE_ENV
from bitewing.core.plugins.manager import DISABLE_AUTOLOAD_ENV

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "bitewing"
TEMPLATES = CHART / "templates"
DOCKERFILE = ROOT / "Dockerfile"

MIGRATION_URL = "BITEWING_MIGRATION_DATABASE_URL"
SECRET_KEYS = {
    "BITEWING_SECRET_KEY",
    "BITEWING_DATABASE_URL",
    MIGRATION_URL,
    "BITEWING_REDIS_URL",
    "BITEWING_S3_ACCESS_KEY_ID",
    "BITEWING_S3_SECRET_ACCESS_KEY",
}
TIERS = ("web", "worker", "dicomListener")
WORKLOAD_KINDS = ("Deployment", "Job", "CronJob")

VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
TIER_REF = re.compile(r"\$tier((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
COMMAND_LINE = re.compile(r"^\s*command:\s*(\[.*\])\s*$", re.M)
PROBE_COMMAND = re.compile(r"^\s*exec:\s*\n\s*command:\s*(\[.*\])\s*$", re.M)
KIND_LINE = re.compile(r"^kind:\s*(\w+)\s*$", re.M)


# --------------------------------------------------------------------------------------------------------
# helpers (each check returns its problems so that it can be shown to fail)
# --------------------------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def values() -> dict[str, Any]:
    return load_yaml(CHART / "values.yaml")


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def templates() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(TEMPLATES.iterdir()) if path.is_file()}


def lookup(tree: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    """(found, value) of `path` in nested mappings."""
    node = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def allowed_env_names() -> set[str]:
    """The BITEWING_* variables the application reads: Settings fields plus the few read directly."""
    from_settings = {ENV_PREFIX + f.name.upper() for f in fields(Settings) if f.name != "extra"}
    return from_settings | {MIGRATION_URL, APP_ROLE_ENV, DISABLE_AUTOLOAD_ENV, MIGRATIONS_ENV}


def env_key_problems(chart_values: Mapping[str, Any]) -> list[str]:
    problems = []
    allowed = allowed_env_names()
    settings = chart_values.get("settings") or {}
    secrets = chart_values.get("secrets") or {}
    for key in settings:
        if key not in allowed:
            problems.append(f"settings.{key} is not a variable Bitewing reads")
        if key in SECRET_KEYS:
            problems.append(f"settings.{key} is secret: it belongs under secrets")
    for key in secrets:
        if key == "existingSecret":
            continue
        if key not in allowed:
            problems.append(f"secrets.{key} is not a variable Bitewing reads")
        elif key not in SECRET_KEYS:
            problems.append(f"secrets.{key} is not secret: put it under settings")
    return problems


def reference_problems(sources: Mapping[str, str], chart_values: Mapping[str, Any]) -> list[str]:
    """`.Values.a.b` must exist; `$tier.a.b` (the tier loop variable) must exist in every tier block."""
    problems = []
    for name, text in sources.items():
        for match in VALUES_REF.finditer(text):
            path = tuple(match.group(1).lstrip(".").split("."))
            if not lookup(chart_values, path)[0]:
                problems.append(f"{name}: .Values.{'.'.join(path)} is not in values.yaml")
        for match in TIER_REF.finditer(text):
            path = tuple(match.group(1).lstrip(".").split("."))
            for tier in TIERS:
                if not lookup(chart_values, (tier, *path))[0]:
                    problems.append(f"{name}: $tier.{'.'.join(path)} is missing from values.yaml {tier}")
    return problems


def render_actions(text: str, chart_values: Mapping[str, Any]) -> str:
    """Replace each `{{ .Values.a.b }}` by its value from values.yaml, any other action by 0."""

    def value_of(match: re.Match[str]) -> str:
        ref = re.fullmatch(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", match.group(1))
        if ref:
            found, value = lookup(chart_values, tuple(ref.group(1).lstrip(".").split(".")))
            if found and not isinstance(value, Mapping | list):
                return str(value)
        return "0"

    return ACTION.sub(value_of, text)


def workload_commands(
    sources: Mapping[str, str], chart_values: Mapping[str, Any], *, probes: bool = False
) -> Iterator[tuple[str, list[str]]]:
    """The containers' commands of each template (with `probes`: the exec probes' commands instead)."""
    for name, text in sources.items():
        probe_commands = {m.group(1) for m in PROBE_COMMAND.finditer(text)}
        for match in COMMAND_LINE.finditer(text):
            if (match.group(1) in probe_commands) == probes:
                argv = yaml.safe_load(render_actions(match.group(1), chart_values))
                yield name, [str(arg) for arg in argv]


def command_problems(argv: list[str]) -> list[str]:
    """Parse `argv` with the CLI's own click objects (no callback runs) and compare with its --help."""
    if not argv or argv[0] != "bitewing":
        return [f"{argv}: does not run the bitewing CLI"]
    ctx = click.Context(main, info_name="bitewing")
    command: click.Command = main
    path: list[str] = []
    rest = argv[1:]
    while isinstance(command, click.Group):
        if not rest:
            return [f"{argv}: names a group, not a command"]
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            return [f"{argv}: `bitewing {' '.join([*path, rest[0]])}` is not a command"]
        path.append(rest[0])
        rest = rest[1:]
        command = sub
        if isinstance(command, click.Group):
            ctx = click.Context(command, info_name=path[-1], parent=ctx)
    try:
        command.make_context(path[-1], list(rest), parent=ctx)
    except click.ClickException as exc:
        return [f"{argv}: {exc.format_message()}"]
    shown = CliRunner().invoke(main, [*path, "--help"])
    if shown.exit_code != 0:
        return [f"{argv}: `bitewing {' '.join(path)} --help` failed: {shown.output}"]
    return [
        f"{argv}: {option} is not in `bitewing {' '.join(path)} --help`"
        for option in rest
        if option.startswith("-") and not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", shown.output)
    ]


def block_problems(name: str, text: str) -> list[str]:
    """Every `if`, `range`, `with` and `define` action is closed by an `end`, in order."""
    depth = 0
    for match in ACTION.finditer(text):
        words = match.group(1).split()
        word = words[0] if words else ""
        if word in {"if", "range", "with", "define", "block"}:
            depth += 1
        elif word == "end":
            depth -= 1
            if depth < 0:
                return [f"{name}: an `end` closes nothing (offset {match.start()})"]
    return [f"{name}: {depth} block(s) left open"] if depth else []


def annotation(text: str, name: str) -> str | None:
    match = re.search(rf"^\s*{re.escape(name)}:\s*\"?([^\"\n]*)\"?\s*$", text, re.M)
    return match.group(1).strip() if match else None


def define_block(text: str, name: str) -> str:
    # defines are separated by a blank line; their bodies hold nested `end`s
    pattern = r'\{\{-? define "' + re.escape(name) + r'" -?\}\}(.*?)\{\{-? end \}\}(?:\n\n|\s*\Z)'
    match = re.search(pattern, text, re.S)
    assert match, f"{name} is not defined"
    return match.group(1)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            result.append((instruction.upper(), args.strip()))
    return result


def shipped_members() -> list[str]:
    """Workspace members that ship (the test-only ones under tests/ do not)."""
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    members = []
    for pattern in workspace["members"]:
        if pattern.startswith("tests/"):
            continue
        members += [str(p.parent.relative_to(ROOT)) for p in sorted(ROOT.glob(f"{pattern}/pyproject.toml"))]
    return members


# --------------------------------------------------------------------------------------------------------
# Chart.yaml and values.yaml
# --------------------------------------------------------------------------------------------------------


def test_chart_metadata() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "bitewing"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(chart["version"]))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert str(chart["appVersion"]) == project["version"]


@pytest.mark.parametrize("values_file", ["values.yaml", "ci/example-values.yaml"])
def test_every_bitewing_key_is_a_real_setting(values_file: str) -> None:
    chart_values = deep_merge(values(), load_yaml(CHART / values_file))
    assert env_key_problems(chart_values) == []
    assert set(chart_values["secrets"]) - {"existingSecret"} == SECRET_KEYS


def test_the_example_values_load_as_application_settings(tmp_path: Path) -> None:
    """What the ConfigMap and the Secret give a pod is accepted by `load_settings` (types included)."""
    chart_values = deep_merge(values(), load_yaml(CHART / "ci/example-values.yaml"))
    env = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in {**chart_values["settings"], **chart_values["secrets"]}.items()
        if key.startswith(ENV_PREFIX) and key != MIGRATION_URL and value not in (None, "")
    }
    settings = load_settings(env, instance_path=tmp_path)
    assert settings.storage_url.startswith("s3://")
    assert settings.is_postgres and settings.redis_url
    assert settings.log_json is True
    assert not (tmp_path / "secret_key").exists(), "a pod must never generate its own secret key"


def test_security_defaults() -> None:
    chart_values = values()
    pod, container = chart_values["podSecurityContext"], chart_values["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]


def test_each_tier_has_its_knobs() -> None:
    chart_values = values()
    for tier in TIERS:
        block = chart_values[tier]
        for key in (
            "replicas",
            "resources",
            "autoscaling",
            "podDisruptionBudget",
            "nodeSelector",
            "tolerations",
        ):
            assert key in block, f"{tier}.{key} is missing"
        assert "affinity" in block
    listener = chart_values["dicomListener"]
    assert listener["service"]["type"] == "LoadBalancer"
    assert listener["service"]["loadBalancerSourceRanges"] == []
    assert listener["service"]["externalTrafficPolicy"] == "Local"
    assert listener["containerPort"] == 11112


# --------------------------------------------------------------------------------------------------------
# templates
# --------------------------------------------------------------------------------------------------------


def test_the_templates_are_there() -> None:
    names = set(templates())
    assert {
        "_helpers.tpl",
        "configmap.yaml",
        "secret.yaml",
        "deployment-web.yaml",
        "deployment-worker.yaml",
        "deployment-dicom-listener.yaml",
        "job-migrate.yaml",
        "cronjob-sweep.yaml",
        "ingress.yaml",
        "serviceaccount.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "networkpolicy.yaml",
        "NOTES.txt",
    } <= names


def test_every_values_reference_exists() -> None:
    assert reference_problems(templates(), values()) == []


def test_template_blocks_are_balanced() -> None:
    for name, text in templates().items():
        assert block_problems(name, text) == []


def test_every_top_level_value_is_used() -> None:
    used = {
        m.group(1).lstrip(".").split(".")[0]
        for text in templates().values()
        for m in VALUES_REF.finditer(text)
    }
    assert set(values()) - used == set()


def test_every_workload_runs_a_real_bitewing_command() -> None:
    sources, chart_values = templates(), values()
    commands = list(workload_commands(sources, chart_values))
    for name, text in sources.items():
        workloads = [kind for kind in KIND_LINE.findall(text) if kind in WORKLOAD_KINDS]
        found = [argv for source, argv in commands if source == name]
        assert len(found) == len(workloads), f"{name}: {len(workloads)} workload(s), {len(found)} command(s)"
    for name, argv in commands:
        assert command_problems(argv) == [], name
    ran = {tuple(argv[1:3]) if argv[1] == "db" else (argv[1],) for _, argv in commands}
    assert ran == {("serve",), ("worker",), ("dicom-listener",), ("db", "upgrade"), ("sweep",)}
    probes = list(workload_commands(sources, chart_values, probes=True))
    assert probes == [("deployment-worker.yaml", ["bitewing", "worker-check"])]
    for name, argv in probes:
        assert command_problems(argv) == [], name


def test_every_pod_is_locked_down() -> None:
    for name, text in templates().items():
        if not any(kind in WORKLOAD_KINDS for kind in KIND_LINE.findall(text)):
            continue
        assert 'include "bitewing.podDefaults"' in text, f"{name}: no pod security context"
        assert "toYaml .Values.securityContext" in text, f"{name}: no container security context"
        assert 'include "bitewing.tmpMount"' in text and 'include "bitewing.tmpVolume"' in text, name
        assert "automountServiceAccountToken:" in text, name
    helpers = templates()["_helpers.tpl"]
    assert "enableServiceLinks: false" in define_block(helpers, "bitewing.podDefaults")
    assert "mountPath: /tmp" in define_block(helpers, "bitewing.tmpMount")


def test_long_running_pods_roll_when_settings_change() -> None:
    for name in ("deployment-web.yaml", "deployment-worker.yaml", "deployment-dicom-listener.yaml"):
        assert 'include "bitewing.checksums"' in templates()[name], name
    checksums = define_block(templates()["_helpers.tpl"], "bitewing.checksums")
    assert '"/configmap.yaml"' in checksums and '"/secret.yaml"' in checksums


def test_web_probes_use_healthz_and_the_listener_tcp() -> None:
    web = templates()["deployment-web.yaml"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert re.search(rf"{probe}:\s+httpGet:\s+path: /healthz", web), probe
    listener = templates()["deployment-dicom-listener.yaml"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert re.search(rf"{probe}:\s+tcpSocket:", listener), probe
    assert "loadBalancerSourceRanges" in listener and "externalTrafficPolicy" in listener


def test_the_migrate_job_is_a_pre_install_and_pre_upgrade_hook() -> None:
    job = templates()["job-migrate.yaml"]
    assert "kind: Job" in job
    hooks = annotation(job, "helm.sh/hook") or ""
    assert set(hooks.split(",")) == {"pre-install", "pre-upgrade"}
    policy = set((annotation(job, "helm.sh/hook-delete-policy") or "").split(","))
    assert {"before-hook-creation", "hook-succeeded"} <= policy
    secret = templates()["secret-migrate.yaml"]
    assert annotation(secret, "helm.sh/hook") == hooks
    assert int(annotation(secret, "helm.sh/hook-weight") or 0) < int(
        annotation(job, "helm.sh/hook-weight") or 0
    )
    # a pre-install hook runs before the regular ConfigMap and ServiceAccount exist
    assert "configMapRef" not in job and "serviceAccountName" not in job


def test_only_the_migrate_job_gets_the_owner_database_url() -> None:
    sources = templates()
    job = sources["job-migrate.yaml"]
    assert re.search(
        r"- name: BITEWING_DATABASE_URL\s+valueFrom:\s+secretKeyRef:\s+name: [^\n]+\s+key: " + MIGRATION_URL,
        job,
    ), "the migrate Job must connect with the owner URL"
    assert MIGRATION_URL not in define_block(sources["_helpers.tpl"], "bitewing.secretEnv")
    assert MIGRATION_URL not in sources["secret.yaml"], "the long-lived Secret must not hold the owner URL"
    for name, text in sources.items():
        if name not in {"job-migrate.yaml", "secret-migrate.yaml", "_helpers.tpl"}:
            assert MIGRATION_URL not in text, name


def test_the_sweeper_runs_every_minute_without_overlap() -> None:
    cron = templates()["cronjob-sweep.yaml"]
    assert "kind: CronJob" in cron
    assert "concurrencyPolicy: Forbid" in cron
    assert values()["sweep"]["schedule"] == "* * * * *"


# --------------------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------------------


def test_dockerfile_installs_the_locked_workspace_without_curl() -> None:
    instructions = dockerfile_instructions()
    text = "\n".join(f"{kind} {args}" for kind, args in instructions)
    assert "python:3.12-slim" in text
    assert re.search(r"pip install [^&]*\buv==", text), "uv comes from PyPI"
    assert not re.search(r"\b(curl|wget)\b|\|\s*(ba)?sh\b", text), "no downloaded installers"
    syncs = [args for kind, args in instructions if kind == "RUN" and "uv sync" in args]
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert "--no-editable" in syncs[-1] and "--no-install-workspace" not in syncs[-1]
    assert not any("--all-packages" in s for s in syncs), "that would ship the test-only plugin"
    assert "UV_PROJECT_ENVIRONMENT=/app/.venv" in text and "COPY --from=build /app/.venv /app/.venv" in text


def test_dockerfile_copies_every_shipped_member() -> None:
    copies = [args for kind, args in dockerfile_instructions() if kind == "COPY"]
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    members = shipped_members()
    assert members, "no workspace members found"
    for member in members:
        assert any(c.startswith(f"{member}/pyproject.toml ") for c in copies), f"{member}/pyproject.toml"
        assert any(c.startswith(f"{member}/src ") for c in copies), f"{member}/src"
        name = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]["name"]
        assert name in root["dependencies"], f"{name} ships only if the root meta-distribution depends on it"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "tests" in ignored and ".git" in ignored and ".env" in ignored


def test_dockerfile_ships_migrations_and_runs_non_root() -> None:
    instructions = dockerfile_instructions()
    text = "\n".join(f"{kind} {args}" for kind, args in instructions)
    assert "BITEWING_MIGRATIONS_DIR=/app/alembic" in text
    assert "COPY alembic /app/alembic" in text and "COPY alembic.ini /app/alembic.ini" in text
    users = [args for kind, args in instructions if kind == "USER"]
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root USER lets runAsNonRoot verify it"
    assert int(uid) == values()["podSecurityContext"]["runAsUser"]
    exposed = {port for kind, args in instructions if kind == "EXPOSE" for port in args.split()}
    assert exposed == {"5000", "11112"}
    cmd = json.loads([args for kind, args in instructions if kind == "CMD"][-1])
    assert cmd == ["bitewing", "serve", "--host", "0.0.0.0", "--port", "5000"]  # noqa: S104
    assert command_problems(cmd) == []


# --------------------------------------------------------------------------------------------------------
# the checks themselves fail on broken input
# --------------------------------------------------------------------------------------------------------


def test_the_key_check_rejects_unknown_and_misplaced_settings() -> None:
    broken = {
        "settings": {"BITEWING_STORAGE_URI": "s3://x", "BITEWING_REDIS_URL": "redis://"},
        "secrets": {"BITEWING_PUBLIC_URL": "https://x"},
    }
    problems = env_key_problems(broken)
    assert len(problems) == 3, problems


def test_the_reference_check_finds_missing_values() -> None:
    sources = {"x.yaml": "a: {{ .Values.web.replicaz }}\nb: {{ $tier.autoscaling.maxReplicas }}"}
    problems = reference_problems(sources, {"web": {"replicas": 1, "autoscaling": {"maxReplicas": 2}}})
    assert any("web.replicaz" in p for p in problems)
    assert any("$tier.autoscaling.maxReplicas" in p and "worker" in p for p in problems)


def test_the_block_check_finds_an_unclosed_block() -> None:
    assert block_problems("x.yaml", "{{- if .Values.a }}\n{{- range .Values.b }}\n{{- end }}") != []
    assert block_problems("x.yaml", "{{- end }}{{- if .Values.a }}") != []


@pytest.mark.parametrize(
    "argv",
    [
        ["bitewing", "serv"],
        ["bitewing", "db"],
        ["bitewing", "db", "migrate"],
        ["bitewing", "serve", "--listen", "127.0.0.1"],
        ["bitewing", "dicom-listener", "--port", "eleven"],
        ["gunicorn", "bitewing.core.app:create_app()"],
    ],
)
def test_the_command_check_rejects_what_the_cli_would(argv: list[str]) -> None:
    assert command_problems(argv) != []
