"""Issue 11, item 20: what `run --resume` saves. A reused output saves what it cost when it
was asked for, shown per task, in the totals, and counted in `report`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli, run_json, write_workflow
from tests.support.messages_server import MessagesServer, Reply

DAG = """\
defaults: {model: haiku, max_tokens: 100, retries: 0}
tasks:
  owls: {prompt: "List three owls"}
  herons: {prompt: "Name a heron"}
  sum: {prompt: "Sum up {{ tasks.owls.output }} {{ tasks.herons.output }}", needs: [owls, herons]}
"""


def test_resumed_tasks_save_what_they_cost_before(api: MessagesServer, capsys, tmp_path: Path):
    api.responder = lambda r: Reply.error(500, "down") if "heron" in r.last_user_text else None
    path = write_workflow(tmp_path, DAG)
    code, first = run_json(capsys, path, "--no-cache")
    assert code == 1 and first["tasks"]["owls"]["status"] == "succeeded"
    owls_cost = first["tasks"]["owls"]["cost_usd"]
    assert owls_cost > 0

    api.reset()
    api.responder = None
    code, resumed = run_json(capsys, path, "--no-cache", "--resume")
    assert code == 0 and api.count("/v1/messages") == 2  # herons and sum; owls reused
    owls = resumed["tasks"]["owls"]
    assert owls["source"] == "resume" and owls["cost_usd"] == 0
    assert owls["saved_usd"] == pytest.approx(owls_cost)
    assert owls["saved_usage"] == first["tasks"]["owls"]["usage"]
    assert resumed["totals"]["saved_usd"] == pytest.approx(owls_cost)

    table = run_cli(capsys, "runs", "show", resumed["run_id"])
    row = next(line for line in table.out.splitlines() if line.startswith("| owls "))
    assert f"${owls_cost:.4f}" in row and "resumed from an earlier run" in row

    # Resuming the resumed run reuses every task, each saving what it first cost.
    api.reset()
    code, again = run_json(capsys, path, "--no-cache", "--resume")
    assert code == 0 and api.count("/v1/messages") == 0
    assert again["tasks"]["owls"]["saved_usd"] == pytest.approx(owls_cost)
    spent = owls_cost + sum(resumed["tasks"][t]["cost_usd"] for t in ("herons", "sum"))
    assert again["totals"]["saved_usd"] == pytest.approx(spent)
