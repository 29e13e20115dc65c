"""Usage errors of any command are exit 2 with a usage message, never a traceback."""

from __future__ import annotations

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
