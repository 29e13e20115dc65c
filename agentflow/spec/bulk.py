"""Building a workflow's many small objects without the cyclic garbage collector.

Python's collector walks every live object from time to time; while a stage builds
millions of them (a 100,000-task workflow, its plan) those walks take two thirds of the
time. The stages make no reference cycles worth collecting, so the collector is paused
while one runs, and what it built is then moved out of the collector's sight
(`gc.freeze`): the walks of the rest of the process skip it. Freed objects are still
freed when nothing refers to them (reference counting does not depend on the collector).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def building() -> Iterator[None]:
    """Pause the collector while the block runs (nested blocks: the outermost resumes it);
    afterwards, freeze what is alive."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
