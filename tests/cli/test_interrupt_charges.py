"""Issue 11, item 2: Ctrl-C cancels requests the API may still bill. Each stays charged at
its worst case, so what agentflow reports covers the bill, and the cap still holds."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from agentflow.prices import Usage, load_prices
from tests.cli.test_interrupt import start_run, wait_for
from tests.support.messages_server import MessagesServer, Reply

pytestmark = pytest.mark.slow  # a real process and a real signal

PRICES = load_prices()


def test_requests_cut_by_ctrl_c_stay_charged(messages_server: MessagesServer, tmp_path: Path):
    messages_server.responder = lambda request: Reply(text="word " * 2000, delay=1.5)
    tasks = "".join(f"  t{i}: {{prompt: 'task {i}'}}\n" for i in range(30))
    path = tmp_path / "wf.yaml"
    path.write_text(
        "version: 1\nname: cut\ndefaults: {model: haiku, max_tokens: 300}\ntasks:\n" + tasks
    )
    process = start_run(
        messages_server, tmp_path, path, "--json", "--concurrency", "20", "--budget", "0.05"
    )
    try:
        assert wait_for(lambda: messages_server.in_flight >= 5, 30), "nothing was sent"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130, err
    summary = json.loads(out)
    deadline = time.monotonic() + 10  # the server finishes (and bills) what was cut
    while messages_server.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    billed = sum(PRICES.cost("haiku", Usage(**u)) for u in messages_server.usage_log)
    assert billed > 0
    totals = summary["totals"]
    assert totals["cost_usd"] >= billed - 1e-9, (totals, billed)
    assert totals["cost_estimated_usd"] > 0
    assert billed <= 0.05
    cancelled = [t for t in summary["tasks"].values() if t["status"] == "cancelled"]
    assert any(t["cost_estimated_usd"] > 0 for t in cancelled)
