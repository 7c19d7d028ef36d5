"""The three rooms and their one-way imports (docs/architecture.md).

* `make lint` runs import-linter; here it runs on a copy of the packages with one forbidden import
  planted, to prove the contracts catch what they promise to (a contract that can't fail is no check).
* A worker installs the runtime alone (`uv sync --no-default-groups`): every third-party module the
  runtime imports must come from the runtime's own dependencies, not from the tooling's or the
  simulator's group.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = ROOT / "include"
PACKAGES = ("drp", "drp_domain", "drpctl", "drp_generator")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.unit


def _copy_packages(dest: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(INCLUDE / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _lint_imports(include_dir: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH comes before the editable install's .pth entry, so the copy shadows include/.
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(include_dir), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _plant(module: Path, statement: str) -> None:
    source = module.read_text()
    module.write_text(
        source.replace(
            "from __future__ import annotations\n", f"from __future__ import annotations\n\n{statement}\n", 1
        )
    )


def test_contracts_hold_for_the_tree_as_committed(tmp_path: Path) -> None:
    result = _lint_imports(_copy_packages(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("drp/tasks.py", "import drpctl.stack.native", "The runtime imports neither"),
        ("drp/ingest/loader.py", "from drp_generator import truth", "The runtime imports neither"),
        ("drp/publish/snapshots.py", "import supervisor", "The runtime imports neither"),
        (
            "drp_generator/world.py",
            "from drp.settings import Settings",
            "The source simulator imports neither",
        ),
        ("drpctl/cli.py", "import drp_generator.api", "The tooling does not import the simulator"),
        ("drp_domain/__init__.py", "import drp.errors", "The shared domain vocabulary"),
    ],
)
def test_a_forbidden_import_breaks_lint(tmp_path: Path, module: str, statement: str, contract: str) -> None:
    include_dir = _copy_packages(tmp_path)
    _plant(include_dir / module, statement)
    result = _lint_imports(include_dir)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), result.stdout


def _third_party_imports(package_dir: Path) -> set[str]:
    """Top-level names of every module the package imports that is not part of this project."""
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in PACKAGES and n not in sys.stdlib_module_names and n != "__future__"}


def _closure(requirements: list[str]) -> set[str]:
    """Canonical names of the distributions the requirements pull in, transitively (no extras)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo.extend(Requirement(r) for r in metadata.requires(req.name) or [])
        except metadata.PackageNotFoundError:
            continue  # a platform-specific dependency not installed here
    return seen


def test_the_runtime_needs_only_its_own_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _closure(project["dependencies"])
    providers = metadata.packages_distributions()
    outside = {}
    for module in sorted(
        _third_party_imports(INCLUDE / "drp") | _third_party_imports(INCLUDE / "drp_domain")
    ):
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        assert dists, f"{module} is imported by the runtime but installed by no distribution"
        if not dists & runtime:
            outside[module] = sorted(dists)
    assert not outside, (
        f"the runtime imports modules outside its dependencies (a worker lacks them): {outside}"
    )


def test_the_tooling_and_simulator_dependencies_are_not_the_runtimes() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {canonicalize_name(Requirement(r).name) for r in config["project"]["dependencies"]}
    groups = config["dependency-groups"]
    for group in ("tooling", "generator"):
        names = {canonicalize_name(Requirement(r).name) for r in groups[group]}
        assert names, group
        assert not names & runtime, f"{group}: {sorted(names & runtime)} are runtime dependencies too"
    assert {"tooling", "generator"} <= set(config["tool"]["uv"]["default-groups"])
