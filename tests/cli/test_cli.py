"""Usage errors of any command are exit 2 with a usage message, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "No such command"),
        (["run"], "Missing argument"),
        (["plan"], "Missing argument"),
        (["run", "x.yaml", "--concurrency", "0"], "--concurrency"),
        (["run", "x.yaml", "--bogus"], "No such option"),
        (["runs", "list", "--limit", "0"], "--limit"),
    ],
)
def test_usage_errors_are_exit_2(capsys, args, message):
    result = run_cli(capsys, *args)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err and "internal error" not in result.err


def test_help_is_exit_0(capsys):
    result = run_cli(capsys, "--help")
    assert result.code == 0
    for command in ("validate", "plan", "run", "agents", "runs", "report", "cache"):
        assert command in result.out


def test_unknown_schedule_and_conflicting_cache_flags(capsys, tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text("version: 1\nname: x\ntasks:\n  a: {prompt: hi}\n")
    result = run_cli(capsys, "run", str(path), "--schedule", "fastest", "--provider", "simulate")
    assert result.code == 2 and "unknown schedule" in result.err
    result = run_cli(capsys, "run", str(path), "--no-cache", "--refresh", "--provider", "simulate")
    assert result.code == 2 and "--refresh" in result.err


def test_unknown_provider_is_exit_2(capsys, tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text("version: 1\nname: x\ntasks:\n  a: {prompt: hi}\n")
    result = run_cli(capsys, "run", str(path), "--provider", "openai")
    assert result.code == 2 and "simulate" in result.err


def test_invalid_output_schema_is_caught_by_validate(capsys, tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text(
        "version: 1\nname: x\ntasks:\n  a: {prompt: hi, output_schema: {type: objekt}}\n"
    )
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert f"{path}:4:" in result.err and "not a valid JSON Schema" in result.err


def test_a_broken_history_file_warns_but_the_run_goes_on(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTFLOW_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("AGENTFLOW_SIMULATE_LATENCY", "0")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "history.db").write_text("not a database")
    path = tmp_path / "wf.yaml"
    path.write_text("version: 1\nname: x\ntasks:\n  a: {prompt: hi}\n")
    result = run_cli(capsys, "run", str(path), "--provider", "simulate", "--json")
    assert result.code == 0
    assert "warning: the run history was not fully written" in result.err
    summary = json.loads(result.out)
    assert (Path(summary["run_dir"]) / "a.md").exists()
    listing = run_cli(capsys, "runs", "list")
    assert listing.code == 2 and "not a database" in listing.err


def test_bad_since_is_exit_2_with_routing_too(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTFLOW_HOME", str(tmp_path / "state"))
    result = run_cli(capsys, "report", "--routing", "--since", "3x")
    assert result.code == 2 and "cannot read the duration '3x'" in result.err
