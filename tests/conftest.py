from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.messages_server import MessagesServer


@pytest.fixture
def messages_server() -> Iterator[MessagesServer]:
    """A started fake Messages API server; fails the test if the server itself crashed."""
    with MessagesServer() as server:
        yield server
        assert not server.errors, "messages server errors:\n" + "\n".join(server.errors)
