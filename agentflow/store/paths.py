"""Where agentflow keeps its state: `.agentflow/` in the current directory, or $AGENTFLOW_HOME.

`runs/RUN_ID/` holds each run's folder, `history.db` the run history, `cache/` the response
cache (or $AGENTFLOW_CACHE_DIR).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

HOME_ENV = "AGENTFLOW_HOME"
CACHE_DIR_ENV = "AGENTFLOW_CACHE_DIR"
HISTORY_FILE = "history.db"


def state_dir() -> Path:
    return Path(os.environ.get(HOME_ENV) or ".agentflow")


def history_path() -> Path:
    return state_dir() / HISTORY_FILE


def cache_dir() -> Path:
    """The response cache's folder: $AGENTFLOW_CACHE_DIR, else `cache/` in the state folder."""
    return Path(os.environ.get(CACHE_DIR_ENV) or state_dir() / "cache")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
