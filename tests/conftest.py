from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.messages_server import MessagesServer


@pytest.fixture
def messages_server() -> Iterator[MessagesServer]:
    """A started fake Messages API server; fails the test if the server itself crashed."""
    with MessagesServer() as server:
        yield server
        assert not server.errors, "messages server errors:\n" + "\n".join(server.errors)


TEST_API_KEY = "sk-ant-secret-for-tests"


@pytest.fixture
def api(messages_server: MessagesServer, monkeypatch, tmp_path) -> MessagesServer:
    """Point agentflow at the server, with a key, fast backoff and a private state folder
    (run history, run folders and response cache all under tmp_path/state)."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", messages_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("AGENTFLOW_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("AGENTFLOW_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("AGENTFLOW_CACHE_DIR", raising=False)
    return messages_server


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    """A private state folder (history, run folders, cache) and the built-in prices."""
    monkeypatch.setenv("AGENTFLOW_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("AGENTFLOW_PRICES", raising=False)
    return tmp_path / "state"
