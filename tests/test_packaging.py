"""Packaging for operators: the two lock files, the container image and the compose file.

No container engine is needed: the compose file's `tessera` command lines go through the CLI's own
option parsing and their environment through the settings loader, so an option or a setting that
does not exist fails here instead of on an operator's server.
"""

from __future__ import annotations

import ast
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
