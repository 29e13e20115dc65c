"""The house rules (../shared/ARCHITECTURE.md), checked where a drift would first show: the
import contracts in pyproject.toml, module sizes, the floor plan, constructors, complexity."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "agentflow"
BIN = Path(sys.executable).parent
MAX_MODULE_LINES = 400
MAX_TOP_LEVEL_MODULES = 8
MAX_CONSTRUCTOR_PARAMETERS = 5


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed next to {sys.executable} (pip install -e '.[dev]')")
    return path


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_import_contracts_hold() -> None:
    """No cycles, the pipeline's layers, nothing imports the CLI, the engine never imports
    the store or the views, spec imports only errors, tools only events and errors."""
    done = subprocess.run(
        [str(_tool("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout and "BROKEN" not in done.stdout


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these modules: {long}"


def test_the_floor_plan_shows_the_pipeline() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    stages = {"spec", "validate", "routing", "providers", "tools", "plan", "engine", "store"}
    assert stages | {"render", "cli"} <= packages


def test_no_constructor_takes_more_than_five_parameters() -> None:
    """Positional or required: optional keyword-only options (as rich's Console has) are
    the way out of a long constructor, not a sign of one."""
    crowded = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                args = node.args
                required_keywords = sum(d is None for d in args.kw_defaults)
                count = len(args.posonlyargs) + len(args.args) - 1 + required_keywords
                if count > MAX_CONSTRUCTOR_PARAMETERS:
                    crowded.append(f"{path.relative_to(ROOT)}:{node.lineno} ({count})")
    assert not crowded, f"pass a context or keyword options instead: {crowded}"


def test_no_function_is_more_complex_than_12() -> None:
    """ruff's mccabe check, with max-complexity = 12 from pyproject.toml."""
    done = subprocess.run(
        [str(_tool("ruff")), "check", "--select", "C901", "--output-format=concise", "agentflow"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
