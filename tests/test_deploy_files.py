"""The deployment files in deploy/ say what the code does.

No Docker engine or cluster runs in the tests, so these checks are static, but they are
the ones that break a deployment: every YAML parses; the commands the files run exist
(`relay <command> --help` exits 0); every RELAY_* variable they set is a real setting,
and the environment each shape builds loads with :func:`relay.config.settings.load_settings`;
ports, probe paths, Secret and ConfigMap names agree across files.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from relay.cli.main import cli
from relay.config.settings import IGNORED_ENV, SECTIONS, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "relay.service"
COMPOSE = DEPLOY / "compose.yaml"
README = DEPLOY / "README.md"
SETTINGS_FILES = [DOCKERFILE, UNIT, COMPOSE, README, *sorted(KUBERNETES.glob("*.yaml"))]
"""The files of the three shapes (deploy/wordpress/ is the WordPress plugin, not a shape)."""


def load_yaml(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def kubernetes_objects() -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in load_yaml(path):
            objects[doc["kind"]] = doc
    return objects


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def unit_entries() -> dict[str, list[tuple[str, str]]]:
    """systemd's format: [Section] then Key=Value lines; a key may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections.setdefault(current, [])
        else:
            key, _, value = line.partition("=")
            sections[current].append((key.strip(), value.strip()))
    return sections


def unit_value(section: str, key: str) -> str:
    values = [value for name, value in unit_entries()[section] if name == key]
    assert values, f"relay.service has no {key}= in [{section}]"
    return values[-1]


def compose() -> dict[str, Any]:
    [doc] = load_yaml(COMPOSE)
    return doc


# -- every file parses -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [COMPOSE, *sorted(KUBERNETES.glob("*.yaml"))], ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_yaml_parses(path: Path) -> None:
    docs = load_yaml(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


def test_kustomization_lists_existing_files_and_not_the_example_secret() -> None:
    [kustomization] = load_yaml(KUBERNETES / "kustomization.yaml")
    for resource in kustomization["resources"]:
        assert (KUBERNETES / resource).is_file(), resource
    assert "secret.example.yaml" not in kustomization["resources"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_manifests() -> None:
    result = subprocess.run(["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc}
    assert kinds == {"ConfigMap", "Deployment", "Service"}


def test_the_readme_covers_each_shape_and_the_move() -> None:
    text = README.read_text(encoding="utf-8")
    for name in ("deploy/relay.service", "deploy/compose.yaml", "deploy/kubernetes/", "deploy/Dockerfile"):
        assert name in text, name
    assert "Several instances need PostgreSQL" in text
    assert "relay db copy --from sqlite:///" in text


# -- the commands the files run exist --------------------------------------------------


def _command_words(args: list[str]) -> list[str]:
    """The command path of a `relay ...` invocation: global options skipped, then leading words."""
    words: list[str] = []
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option == "--config" and rest:
            rest.pop(0)
    for arg in rest:
        if not re.fullmatch(r"[a-z][a-z-]*", arg):
            break
        words.append(arg)
    return words


def _relay_invocations_in_text(text: str) -> list[list[str]]:
    """`relay <words>` wherever `relay` stands as a command word followed by arguments on its line."""
    found = []
    for match in re.finditer(r"(?:^|(?<=[\s/`\"'\[]))relay[ \t]+([^\n`]*)", text):
        args = [arg.strip("\"'") for arg in match.group(1).split(" #")[0].split()]
        words = _command_words(args)
        if words:
            found.append(words)
    return found


def _code_of_readme() -> str:
    """Shell blocks and inline code spans: the prose says "relay posts ..." too, and ```text
    blocks show relay's output, not commands."""
    text = README.read_text(encoding="utf-8")
    blocks = [body for lang, body in re.findall(r"```([a-z]*)\n(.*?)```", text, flags=re.S) if lang in ("", "sh")]
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(blocks + spans)


def _invocations() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    found += [("README.md", words) for words in _relay_invocations_in_text(_code_of_readme())]
    unit_lines = [f"{key}={value}" for key, value in unit_entries()["Service"] if key.startswith("Exec")]
    found += [("relay.service", words) for words in _relay_invocations_in_text("\n".join(unit_lines))]
    entrypoint = [args for instruction, args in dockerfile_instructions() if instruction == "ENTRYPOINT"]
    cmd = [args for instruction, args in dockerfile_instructions() if instruction == "CMD"]
    found.append(("Dockerfile", _command_words(yaml.safe_load(entrypoint[-1])[1:] + yaml.safe_load(cmd[-1]))))
    for name, service in compose()["services"].items():
        if "command" in service and service.get("image", "").startswith("relay"):
            found.append((f"compose.yaml {name}", _command_words(service["command"])))
    deployment = kubernetes_objects()["Deployment"]["spec"]["template"]["spec"]
    for container in deployment["initContainers"] + deployment["containers"]:
        argv = container.get("command", []) + container.get("args", [])
        assert argv[0] == "relay", container["name"]
        found.append((f"deployment.yaml {container['name']}", _command_words(argv[1:])))
    return [(where, list(words)) for where, words in dict.fromkeys((w, tuple(ws)) for w, ws in found)]


def _resolve(words: list[str]) -> list[str]:
    """The longest prefix of ``words`` that names a command (later words are arguments)."""
    group: click.Command = cli
    path: list[str] = []
    for word in words:
        commands = dict(getattr(group, "commands", {}))
        if word not in commands:
            break
        group = commands[word]
        path.append(word)
    return path


def test_the_deploy_files_name_the_commands_they_need() -> None:
    named = {" ".join(_resolve(words)) for _, words in _invocations()}
    assert {"serve", "migrate", "db copy", "config check"} <= named


@pytest.mark.parametrize("where,words", _invocations(), ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_every_relay_command_named_exists(where: str, words: list[str]) -> None:
    path = _resolve(words)
    assert path, f"{where}: `relay {' '.join(words)}` is not a relay command"
    result = CliRunner().invoke(cli, [*path, "--help"], obj={})
    assert result.exit_code == 0, f"{where}: relay {' '.join(path)} --help: {result.output}"


# -- every RELAY_* variable is a real setting, and each shape's environment loads ------------


def _is_setting(name: str) -> bool:
    if name in IGNORED_ENV:
        return True
    section, _, key = name.removeprefix("RELAY_").removesuffix("_FILE").lower().partition("_")
    if section not in SECTIONS:
        return False
    model = Settings.model_fields[section].annotation
    return key in getattr(model, "model_fields", {})


def test_every_relay_variable_named_is_a_setting() -> None:
    seen: dict[str, str] = {}
    for path in SETTINGS_FILES:
        for name in re.findall(r"\bRELAY_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")):
            seen.setdefault(name, path.name)
    assert "RELAY_DATABASE_URL" in seen and "RELAY_SERVER_HOST" in seen
    unknown = {name: where for name, where in seen.items() if not _is_setting(name)}
    assert not unknown, f"not relay settings: {unknown}"


def test_the_dockerfile_environment_loads() -> None:
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions():
        if instruction == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                env[name] = value
    relay_env = {k: v for k, v in env.items() if k.startswith("RELAY_")}
    settings = load_settings(None, environ=relay_env)
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 8080


def test_the_compose_environment_loads(tmp_path: Path) -> None:
    """The relay services' variables, with their secret files stood in by real files."""
    service = compose()["services"]["relay-1"]
    secret_content = {
        "database_url": "postgresql://relay:pw@postgres:5432/relay",
        "api_token": "a-long-random-token",
    }
    environ: dict[str, str] = {}
    for name, value in service["environment"].items():
        if value.startswith("/run/secrets/"):
            secret = value.removeprefix("/run/secrets/")
            assert secret in service["secrets"], f"{name} reads a secret the service is not given"
            (tmp_path / secret).write_text(secret_content.get(secret, ""), encoding="utf-8")
            value = str(tmp_path / secret)
        environ[name] = value
    config = tmp_path / "relay.toml"
    shutil.copy(ROOT / "config.example.toml", config)  # what deploy/README.md tells you to start from
    environ["RELAY_CONFIG"] = str(config)

    settings = load_settings(None, environ=environ)

    assert settings.database.url == secret_content["database_url"]
    assert settings.api.token.get_secret_value() == secret_content["api_token"]
    assert settings.dry_run  # empty X secret files


def test_the_kubernetes_environment_loads(tmp_path: Path) -> None:
    objects = kubernetes_objects()
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    environ = {item["name"]: item["value"] for item in container["env"]}
    environ.update(objects["Secret"]["stringData"])
    config = tmp_path / "relay.toml"
    config.write_text(objects["ConfigMap"]["data"]["relay.toml"], encoding="utf-8")
    environ["RELAY_CONFIG"] = str(config)

    settings = load_settings(None, environ=environ)

    assert settings.database.url.startswith("postgresql://")
    assert settings.feeds, "the ConfigMap's relay.toml has an example [[feeds]] block"
    assert settings.server.port == 8080


# -- Dockerfile ------------------------------------------------------------------------


def test_dockerfile_builds_a_wheel_in_one_stage_and_runs_as_non_root_in_another() -> None:
    instructions = dockerfile_instructions()
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for i, a in instructions if i == "ARG" and "=" in a}
    froms = [a for i, a in instructions if i == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build")
    assert re.fullmatch(r"python:3\.1[12]-slim", args["PYTHON_IMAGE"])
    assert any("pip wheel" in a for i, a in instructions if i == "RUN")
    users = [a for i, a in instructions if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # After the last FROM (the runtime image), nothing switches back to root.
    runtime = instructions[max(n for n, (i, _) in enumerate(instructions) if i == "FROM"):]
    assert [a for i, a in runtime if i == "USER"] == users[-1:]


def test_dockerfile_healthcheck_entrypoint_and_port() -> None:
    instructions = dict(dockerfile_instructions())
    assert "/healthz" in instructions["HEALTHCHECK"]
    assert '"python"' in instructions["HEALTHCHECK"]  # slim images have no curl
    assert yaml.safe_load(instructions["ENTRYPOINT"]) == ["relay"]
    assert yaml.safe_load(instructions["CMD"]) == ["serve"]
    assert instructions["EXPOSE"] == "8080"
    assert "RELAY_SERVER_HOST=0.0.0.0" in instructions["ENV"]


def test_the_dockerignore_lets_through_what_the_dockerfile_copies() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore  # an allow-list: nothing else reaches the builder
    copied = []
    for instruction, args in dockerfile_instructions():
        if instruction == "COPY" and not args.startswith("--from"):
            copied += args.split()[:-1]
    assert copied
    for source in copied:
        assert source.rstrip("/") in allowed, f"COPY {source} is excluded by Dockerfile.dockerignore"
        assert (ROOT / source).exists()


# -- systemd ---------------------------------------------------------------------------


def test_systemd_unit_runs_relay_serve_as_a_dedicated_user_with_hardening() -> None:
    assert unit_value("Service", "ExecStart") == "/opt/relay/.venv/bin/relay --config /etc/relay/relay.toml serve"
    assert unit_value("Service", "ExecStartPre").endswith(" migrate")
    assert unit_value("Service", "User") not in ("", "root")
    assert unit_value("Service", "WorkingDirectory") == "/var/lib/relay"
    assert unit_value("Service", "Restart") == "on-failure"
    assert unit_value("Service", "NoNewPrivileges") == "yes"
    assert unit_value("Service", "ProtectSystem") == "strict"
    assert unit_value("Service", "ReadWritePaths") == "/var/lib/relay"
    assert unit_value("Service", "PrivateTmp") == "yes"
    assert unit_value("Install", "WantedBy") == "multi-user.target"


def test_systemd_unit_uses_the_sqlite_default_in_its_working_directory() -> None:
    """The unit must not override database.url: the file (or the default) decides."""
    assert not any("DATABASE" in value for _, value in unit_entries()["Service"])
    assert Settings().database.url == "sqlite:///relay.db"  # relative: lands in WorkingDirectory


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    relay = Path(sys.executable).with_name("relay")
    if not relay.exists():
        pytest.skip(f"{relay} is absent: install relay in this environment")
    unit = tmp_path / "relay.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/relay/.venv/bin/relay", str(relay)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "relay.service" not in result.stderr, result.stderr  # no warning about our unit


# -- compose ---------------------------------------------------------------------------


def test_compose_has_postgres_a_migrate_job_and_two_relay_instances() -> None:
    services = compose()["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])

    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no"

    instances = {name: s for name, s in services.items() if s.get("command") == ["serve"]}
    assert len(instances) == 2
    for name, service in instances.items():
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert "/healthz" in " ".join(service["healthcheck"]["test"]), name
    published = [port for s in instances.values() for port in s["ports"]]
    assert len(set(published)) == 2


def test_compose_instances_share_one_database_url_from_a_secret() -> None:
    doc = compose()
    relay_services = [s for s in doc["services"].values() if s.get("image", "").startswith("relay")]
    urls = {
        (s["environment"].get("RELAY_DATABASE_URL"), s["environment"].get("RELAY_DATABASE_URL_FILE"))
        for s in relay_services
    }
    assert len(urls) == 1
    [(url, url_file)] = urls
    assert url is None and url_file == "/run/secrets/database_url"
    assert "database_url" in doc["secrets"]
    for name, secret in doc["secrets"].items():
        assert secret["file"].startswith("./secrets/"), name
    password = doc["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"]
    assert password.removeprefix("/run/secrets/") in doc["services"]["postgres"]["secrets"]


# -- Kubernetes ------------------------------------------------------------------------


def test_kubernetes_deployment_migrates_first_and_probes_the_right_paths() -> None:
    objects = kubernetes_objects()
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    [init] = pod["initContainers"]
    assert init["command"] + init.get("args", []) == ["relay", "migrate"]
    [container] = pod["containers"]
    assert init["image"] == container["image"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert ports["http"] == int(env["RELAY_SERVER_PORT"]) == 8080
    assert env["RELAY_SERVER_HOST"] == "0.0.0.0"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        check = container[probe]["httpGet"]
        assert check["path"] == path
        assert ports.get(check["port"], check["port"]) == 8080
    for part in ("requests", "limits"):
        assert container["resources"][part]["memory"]


def test_kubernetes_pods_run_as_non_root_with_a_read_only_root() -> None:
    pod = kubernetes_objects()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for container in pod["initContainers"] + pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]


def test_kubernetes_names_agree() -> None:
    objects = kubernetes_objects()
    pod_template = objects["Deployment"]["spec"]["template"]
    pod = pod_template["spec"]
    container = pod["containers"][0]
    secret_refs = {ref["secretRef"]["name"] for ref in container["envFrom"]}
    assert objects["Secret"]["metadata"]["name"] in secret_refs
    assert all("CHANGE_ME" in value or value == "" for value in objects["Secret"]["stringData"].values()
               if "postgresql://" not in value)
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    config_mount = next(m for m in container["volumeMounts"] if "configMap" in volumes[m["name"]])
    assert volumes[config_mount["name"]]["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    env = {item["name"]: item["value"] for item in container["env"]}
    config_path = Path(env["RELAY_CONFIG"])
    assert config_path.parent == Path(config_mount["mountPath"])
    assert config_path.name in objects["ConfigMap"]["data"]
    tomllib.loads(objects["ConfigMap"]["data"][config_path.name])
    service = objects["Service"]
    labels = pod_template["metadata"]["labels"]
    assert all(labels.get(key) == value for key, value in service["spec"]["selector"].items())
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= {p["name"] for p in container["ports"]}
