"""Issue 11, item 14: the response cache holds plain JSON. A pickle planted where an entry
would be found never runs: it is a miss, the question is asked again, and the run works."""

from __future__ import annotations

import os
import pickle
import sqlite3
from pathlib import Path

from tests.cli_helpers import run_json, write_workflow
from tests.support.messages_server import MessagesServer

DAG = """\
defaults: {model: haiku, max_tokens: 100}
tasks:
  source: {prompt: "List three owls"}
  child: {prompt: "Describe {{ tasks.source.output }}", needs: [source]}
"""

# diskcache's table, as earlier versions of agentflow kept the cache (in `cache.db`)
DISKCACHE_TABLE = (
    "CREATE TABLE IF NOT EXISTS Cache (rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, "
    "store_time REAL, expire_time REAL, access_time REAL, access_count INTEGER DEFAULT 0, "
    "tag BLOB, size INTEGER DEFAULT 0, mode INTEGER DEFAULT 0, filename TEXT, value BLOB)"
)
PICKLED = 4  # diskcache's MODE_PICKLE: the value is unpickled when read


class Payload:
    """Unpickling this runs `touch MARKER`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch '{self.marker}'",)


def plant(folder: Path, keys: list[str], marker: Path) -> None:
    """The payload in every place an entry for `keys` is looked for: the rows of the cache
    file that exists, and diskcache's `cache.db` (planted anew where there is none)."""
    evil = pickle.dumps(Payload(marker))
    with sqlite3.connect(folder / "cache.db") as old:
        old.execute(DISKCACHE_TABLE)
        old.execute("DELETE FROM Cache")
        old.executemany(
            "INSERT INTO Cache (key, raw, store_time, mode, value) VALUES (?, 1, 0, ?, ?)",
            [(key, PICKLED, evil) for key in keys],
        )
    old.close()
    current = folder / "responses.sqlite3"
    if current.exists():
        with sqlite3.connect(current) as db:
            db.execute("UPDATE answers SET entry = ?", (evil,))
        db.close()


def test_a_planted_pickle_never_runs_and_is_a_miss(
    api: MessagesServer, capsys, tmp_path: Path
) -> None:
    path = write_workflow(tmp_path, DAG)
    code, first = run_json(capsys, path)
    assert code == 0 and api.count("/v1/messages") == 2
    keys = [task["request_hash"] for task in first["tasks"].values()]
    marker = tmp_path / "payload-ran"
    plant(tmp_path / "state" / "cache", keys, marker)

    code, second = run_json(capsys, path)
    assert not marker.exists(), "a pickle in the cache folder was executed"
    assert code == 0 and second["status"] == "succeeded"
    assert {t["source"] for t in second["tasks"].values()} == {"api"}  # misses: asked again
    assert api.count("/v1/messages") == 4
    assert second["tasks"]["child"]["output"] == first["tasks"]["child"]["output"]

    code, third = run_json(capsys, path)  # the answers were stored again, as JSON
    assert code == 0 and {t["status"] for t in third["tasks"].values()} == {"cached"}
    assert api.count("/v1/messages") == 4
    assert not marker.exists()
