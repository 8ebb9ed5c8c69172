"""Packaging for operators: the two lock files, the container image and the compose file.

No container engine is needed: the compose file's `tessera` command lines go through the CLI's own
option parsing and their environment through the settings loader, so an option or a setting that
does not exist fails here instead of on an operator's server.
"""

from __future__ import annotations

import ast
import json
import subprocess
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import click
import pytest
import yaml

from tessera.cli.base import main
from tessera.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"tessera", "content", "builder", "publish", "commerce_api"}


def _name(requirement: str) -> str:
    """A requirement's project name, normalised (PEP 503): ``uvicorn[standard]>=0.30`` -> ``uvicorn``."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip()).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock(path: Path) -> dict[str, dict]:
    """``name -> {"version", "hashes", "via"}`` for each pinned package of a uv lock file."""
    packages: dict[str, dict] = {}
    current = None
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line):
            current = packages[_name(match.group(1))] = {"version": match.group(2), "hashes": [], "via": []}
        elif current is not None and (hashed := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            current["hashes"].append(hashed.group(1))
        elif current is not None and (via := re.match(r"^\s+#\s+(?:via\s+)?(\S.*)$", line)):
            if via.group(1) != "via":
                current["via"].append(via.group(1).strip())
    return packages


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_DEPS = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
DEV_DEPS = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
BUILD_DEPS = {_name(r) for r in PYPROJECT["build-system"]["requires"]}
RUNTIME_LOCK = _lock(ROOT / "requirements.lock")
DEV_LOCK = _lock(ROOT / "requirements-dev.lock")


# -- the lock files -------------------------------------------------------------------------------


def test_the_runtime_lock_pins_every_runtime_dependency_and_the_build_backend_with_hashes():
    assert RUNTIME_DEPS | BUILD_DEPS <= RUNTIME_LOCK.keys(), \
        f"missing from requirements.lock (run `make lock`): {sorted(RUNTIME_DEPS | BUILD_DEPS - RUNTIME_LOCK.keys())}"
    assert all(p["hashes"] for p in RUNTIME_LOCK.values())


def test_the_runtime_lock_holds_nothing_only_the_tests_need():
    """Every package in it is a runtime dependency, the build backend, or pulled in by one of them
    (litestar needs httpx, for instance); pytest, moto, Playwright and the rest stay out."""
    dev_only = DEV_DEPS - RUNTIME_DEPS - BUILD_DEPS
    assert {"pytest", "moto", "playwright", "hypothesis", "aiosmtpd", "schemathesis"} <= dev_only
    for name, package in RUNTIME_LOCK.items():
        if name in RUNTIME_DEPS | BUILD_DEPS:
            continue
        parents = {_name(v) for v in package["via"] if not v.startswith("-c ") and not v.startswith("tessera ")}
        assert parents, f"{name} is in requirements.lock but nothing at run time needs it"
        assert parents <= RUNTIME_LOCK.keys(), f"{name} is in requirements.lock only for {parents - RUNTIME_LOCK.keys()}"


def test_the_dev_lock_is_the_runtime_lock_plus_the_dev_extra_at_the_same_versions():
    assert RUNTIME_DEPS | DEV_DEPS | BUILD_DEPS <= DEV_LOCK.keys()
    assert all(p["hashes"] for p in DEV_LOCK.values())
    for name, package in RUNTIME_LOCK.items():
        assert name in DEV_LOCK, f"{name} is in requirements.lock but not in requirements-dev.lock"
        assert DEV_LOCK[name]["version"] == package["version"], \
            f"{name} is {package['version']} at run time but {DEV_LOCK[name]['version']} in the tests (run `make lock`)"
        assert set(package["hashes"]) <= set(DEV_LOCK[name]["hashes"])


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in a module, including those inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_nothing_outside_the_tests_and_benches_imports_a_package_that_only_the_dev_lock_has():
    """`make demo` and the image install the runtime lock only: a module of the product that imported
    a dev-only package (moto, hypothesis, aiosmtpd, ...) would fail there and nowhere else."""
    distributions = importlib.metadata.packages_distributions()
    wrong = []
    for package in sorted(FIRST_PARTY):
        for path in (ROOT / package).rglob("*.py"):
            for module in _imports(path) - FIRST_PARTY - set(sys.stdlib_module_names) - {"__future__"}:
                owners = {_name(d) for d in distributions.get(module, [])}
                if not owners & RUNTIME_LOCK.keys():
                    wrong.append(f"{path.relative_to(ROOT)}: {module} ({', '.join(sorted(owners)) or 'not installed'})")
    assert not wrong, "imported at run time but not in requirements.lock:\n" + "\n".join(wrong)


# -- the compose file: each `tessera` service's command line and settings, through the CLI's own checks


COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
# What an operator puts in .env: the two settings compose.yaml insists on; then also S3-compatible buckets.
OPERATOR_ENV = {"TESSERA_SECRET_KEY": "k" * 48, "TESSERA_BASE_DOMAIN": "sites.example.com"}
S3_ENV = {**OPERATOR_ENV, "TESSERA_STORAGE": "s3://sites-{tenant}", "TESSERA_S3_ENDPOINT_URL": "https://s3.example.net",
          "TESSERA_S3_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}


def _interpolate(value: str, operator: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?message}``, from the operator's .env."""

    def one(match: re.Match) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if operator.get(name):
            return operator[name]
        if kind == "?":
            raise AssertionError(f"compose.yaml needs {name}: {rest}")
        return rest or ""

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}", one, str(value))


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined: ``[(INSTRUCTION, arguments)]``."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _image_env() -> dict[str, str]:
    env = {}
    for instruction, args in _dockerfile():
        if instruction == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return env


class _Recording(dict):
    """An environment that remembers which variables the settings loader read."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


def _botocore_variables() -> set[str]:
    """The credentials boto3 reads from the environment, named by botocore itself."""
    from botocore.credentials import EnvProvider

    return {EnvProvider.ACCESS_KEY, EnvProvider.SECRET_KEY, EnvProvider.TOKENS[0]}


def check_tessera(args: list[str], environment: dict[str, str]) -> Settings:
    """Parse ``tessera ARGS`` as the CLI would (without running it) and load its settings from the
    image's environment with ``environment`` over it; an unknown command, option or value, or a
    variable in ``environment`` that nothing reads, fails."""
    group = click.Context(main, info_name="tessera")
    command = main.get_command(group, args[0])
    if command is None:
        raise click.UsageError(f"No such command {args[0]!r}.")
    command.make_context(args[0], list(args[1:]), parent=group)
    recording = _Recording({**_image_env(), **environment})
    settings = Settings.from_env(recording)
    unread = {key for key in recording if key.startswith("TESSERA_")} - recording.read
    assert not unread, f"no such setting: {sorted(unread)}"
    strangers = {key for key in environment if not key.startswith("TESSERA_")} - _botocore_variables()
    assert not strangers, f"neither Tessera nor boto3 reads {sorted(strangers)}"
    return settings


def _tessera_services() -> dict[str, dict]:
    return {name: service for name, service in COMPOSE["services"].items() if service.get("image", "").startswith("tessera")}


@pytest.mark.parametrize("operator", [OPERATOR_ENV, S3_ENV], ids=["local-buckets", "s3-buckets"])
def test_every_tessera_service_in_compose_passes_the_clis_own_checks(operator):
    services = _tessera_services()
    assert {"serve", "worker"} <= services.keys()
    for name, service in services.items():
        environment = {k: _interpolate(v, operator) for k, v in service["environment"].items()}
        settings = check_tessera(service["command"], environment)
        assert settings.production and settings.data_dir == Path("/data")
        assert settings.base_domain == "sites.example.com"
        assert settings.storage == operator.get("TESSERA_STORAGE", "file://")
        assert settings.s3_endpoint_url == operator.get("TESSERA_S3_ENDPOINT_URL")
        assert {"source": "tessera-data", "target": "/data"} == dict(zip(("source", "target"),
                                                                         service["volumes"][0].split(":")))


def test_the_checker_refuses_an_unknown_option_command_or_setting():
    """So that the test above cannot pass by checking nothing."""
    env = {"TESSERA_ENV": "production", "TESSERA_SECRET_KEY": "k" * 48}
    check_tessera(["serve", "--workers", "0"], env)
    with pytest.raises(click.UsageError, match="--wrokers"):
        check_tessera(["serve", "--wrokers", "0"], env)
    with pytest.raises(click.BadParameter):
        check_tessera(["serve", "--workers", "many"], env)
    with pytest.raises(click.UsageError, match="No such command"):
        check_tessera(["server"], env)
    with pytest.raises(AssertionError, match="TESSERA_STORGE"):
        check_tessera(["worker"], {**env, "TESSERA_STORGE": "s3://x-{tenant}"})
    with pytest.raises(AssertionError, match="S3_BUCKET_URL"):
        check_tessera(["worker"], {**env, "S3_BUCKET_URL": "s3://x"})
    with pytest.raises(Exception, match="TESSERA_SECRET_KEY"):
        check_tessera(["worker"], {**env, "TESSERA_SECRET_KEY": "short"})


def test_compose_runs_one_server_without_builds_and_workers_for_them():
    services = _tessera_services()
    assert services["serve"]["command"] == ["serve", "--workers", "0"]
    assert services["worker"]["command"] == ["worker"] and services["worker"]["deploy"]["replicas"] >= 1
    # The image's health check asks the serving process; a worker has none to answer it.
    assert services["worker"]["healthcheck"] == {"disable": True} and "healthcheck" not in services["serve"]
    assert services["worker"]["depends_on"]["serve"]["condition"] == "service_healthy"
    # On SIGTERM a worker finishes its job for up to 30 s: Docker must not kill it after its usual 10.
    assert int(services["worker"]["stop_grace_period"].rstrip("s")) > 30


def test_caddy_is_the_only_proxy_believed_and_proxies_to_the_serving_container(tmp_path, monkeypatch):
    from click.testing import CliRunner

    caddy = COMPOSE["services"]["caddy"]
    address = caddy["networks"]["tessera"]["ipv4_address"]
    pool = COMPOSE["networks"]["tessera"]["ipam"]["config"][0]
    import ipaddress

    assert ipaddress.ip_address(address) in ipaddress.ip_network(pool["subnet"])
    assert ipaddress.ip_address(address) not in ipaddress.ip_network(pool["ip_range"])  # never given to another
    for service in _tessera_services().values():
        assert service["environment"]["TESSERA_TRUSTED_PROXIES"] == address
    mount = next(v for v in caddy["volumes"] if isinstance(v, dict) and v["target"] == "/etc/caddy/Caddyfile")
    assert mount["source"] == "./Caddyfile" and mount["bind"]["create_host_path"] is False
    # The Caddyfile the compose file's comment makes: `tessera caddyfile` with TESSERA_HOST=serve.
    assert "-e TESSERA_HOST=serve serve caddyfile > Caddyfile" in (ROOT / "compose.yaml").read_text()
    environment = {k: _interpolate(v, OPERATOR_ENV) for k, v in _tessera_services()["serve"]["environment"].items()}
    for key, value in {**_image_env(), **environment, "TESSERA_HOST": "serve",
                       "TESSERA_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    made = CliRunner().invoke(main, ["caddyfile"], catch_exceptions=False)
    assert made.exit_code == 0
    assert "reverse_proxy serve:8000" in made.output and "ask http://serve:8000/api/tls/ask" in made.output
    assert "sites.example.com, admin.sites.example.com, api.sites.example.com {" in made.output


# -- the image ------------------------------------------------------------------------------------


def test_the_image_is_debians_python_with_git_and_runs_as_a_user_of_its_own():
    instructions = _dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm")
    runs = " ".join(args for instruction, args in instructions if instruction == "RUN")
    assert re.search(r"apt-get install [^&]*\bgit\b", runs)
    users = [args for instruction, args in instructions if instruction == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(rf"useradd [^&]*\b{users[-1].split(':')[0]}\b", runs)
    assert "chown tessera:tessera /data" in runs
    # Installed from the runtime lock, with its hashes; never the test stack.
    assert "pip install --require-hashes --no-deps -r /app/requirements.lock" in runs
    assert "requirements-dev.lock" not in (ROOT / "Dockerfile").read_text()
    assert "requirements-dev.lock" in (ROOT / ".dockerignore").read_text().split()
    env = _image_env()
    assert env["TESSERA_DATA_DIR"] == "/data" and env["TESSERA_HOST"] == "0.0.0.0"
    assert ("VOLUME", '["/data"]') in instructions


def test_the_images_entrypoint_and_command_name_real_commands():
    instructions = dict(_dockerfile())
    entrypoint, command = json.loads(instructions["ENTRYPOINT"]), json.loads(instructions["CMD"])
    assert entrypoint[:2] == ["/usr/bin/tini", "--"]
    assert entrypoint[2:] == ["tessera"] and "tessera" in PYPROJECT["project"]["scripts"]
    check_tessera(command, {"TESSERA_ENV": "production", "TESSERA_SECRET_KEY": "k" * 48})
    assert command == ["serve"]


def test_the_images_health_check_asks_the_serving_process(tmp_path):
    """The HEALTHCHECK's own command, run against a real server: healthy while it serves, not once
    nothing answers."""
    from commerce_api.routes.system import healthz
    from tessera.app import make_app
    from tests.api.conftest import free_port
    from tests.conftest import serving

    check = dict(_dockerfile())["HEALTHCHECK"]
    assert "/healthz" in check and "/healthz" in healthz.paths
    code = re.search(r'CMD python -c "(.*)"$', check).group(1)
    port = free_port()
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path / "data"), "TESSERA_PORT": str(port)})
    environment = {"PATH": "/usr/bin:/bin", "TESSERA_PORT": str(port)}
    with serving(make_app(settings, jobs=False), port):
        healthy = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, timeout=30)
        assert healthy.returncode == 0, healthy.stderr.decode()
    gone = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, timeout=30)
    assert gone.returncode != 0


# -- compose.nodes.yaml: two nodes sharing PostgreSQL, Caddy spreading requests over them

NODES = yaml.safe_load((ROOT / "compose.nodes.yaml").read_text())
NODES_ENV = {**OPERATOR_ENV, "POSTGRES_PASSWORD": "pg-secret"}


def test_every_tessera_service_of_the_nodes_layout_passes_the_clis_own_checks():
    services = {name: s for name, s in NODES["services"].items() if s.get("image", "").startswith("tessera")}
    assert set(services) == {"node1-serve", "node1-worker", "node2-serve", "node2-worker"}
    addresses = {}
    for name, service in services.items():
        environment = {k: _interpolate(v, NODES_ENV) for k, v in service["environment"].items()}
        settings = check_tessera(service["command"], environment)
        node = name.split("-")[0]
        assert settings.node == node and settings.database_url == "postgresql://tessera:pg-secret@postgres:5432/tessera"
        # A node's serving process and its worker share the node's volume, and no other node's.
        assert service["volumes"] == [f"{node}-data:/data"]
        if name.endswith("-serve"):
            assert service["command"] == ["serve", "--workers", "0"]
            addresses[node] = service["networks"]["tessera"]["ipv4_address"]
            assert settings.node_url == f"http://{addresses[node]}:8000"
        else:
            assert service["command"] == ["worker"] and service["healthcheck"] == {"disable": True}
    # Caddy alone is believed as a proxy: nodes forward with the visitor's address signed.
    caddy = NODES["services"]["caddy"]["networks"]["tessera"]["ipv4_address"]
    trusted = set(_interpolate(services["node1-serve"]["environment"]["TESSERA_TRUSTED_PROXIES"], NODES_ENV).split(","))
    assert trusted == {caddy} and caddy not in addresses.values()
    assert NODES["services"]["postgres"]["environment"]["POSTGRES_USER"] == "tessera"
    # The Caddyfile the file's comment makes proxies to both nodes.
    text = (ROOT / "compose.nodes.yaml").read_text()
    assert "caddyfile \\\n#        --upstream node1-serve:8000 --upstream node2-serve:8000 > Caddyfile" in text
