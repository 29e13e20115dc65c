"""`agentflow agents list`: every corpus file listed, duplicates included, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "agent-corpus"
NOT_AGENTS = {"readme.md", "sources.md", "license.md", "changelog.md", "contributing.md"}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/agent-corpus is not present")
def test_every_corpus_file_is_listed(capsys):
    files = {p.resolve() for p in CORPUS.rglob("*.md") if p.name.lower() not in NOT_AGENTS}
    result = run_cli(capsys, "agents", "list", "--dir", str(CORPUS), "--json")
    assert result.code == 0
    assert "Traceback" not in result.err
    listed = {Path(entry["file"]).resolve() for entry in result.json()}
    assert listed == files
    assert len(files) == 400
    table = run_cli(capsys, "agents", "list", "--dir", str(CORPUS))
    assert table.code == 0 and "400 agents" in table.out


def test_lists_the_shipped_agents(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run_cli(capsys, "agents", "list", "--json")
    assert result.code == 0
    by_name = {a["name"]: a for a in result.json()}
    assert {"technical-writer", "code-reviewer", "summarizer"} <= set(by_name)
    assert by_name["summarizer"]["model"] == "haiku"
    assert set(by_name["code-reviewer"]) == {"name", "description", "model", "tools", "file"}


def test_missing_folder_is_exit_2(capsys, tmp_path):
    result = run_cli(capsys, "agents", "list", "--dir", str(tmp_path / "nope"))
    assert result.code == 2
    assert "does not exist" in result.err


def test_no_default_folder_is_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "agents", "list")
    assert result.code == 2
    assert "--dir" in result.err
