"""`agentflow cache stats` and `agentflow cache clear`: the response cache on the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agentflow.cli.options import CacheDirOption, JsonOption, parse_duration, print_json

if TYPE_CHECKING:
    from agentflow.engine.cache import ResponseCache

cache_app = typer.Typer(no_args_is_help=True, help="The response cache: stats, clear.")


def _open(folder: Path | None) -> ResponseCache:
    from agentflow.engine.cache import ResponseCache
    from agentflow.store.paths import cache_dir

    return ResponseCache(folder or cache_dir())


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


@cache_app.command("stats")
def stats(cache_dir: CacheDirOption = None, as_json: JsonOption = False) -> None:
    """Entries, size on disk and age of the response cache."""
    from agentflow.render.console import make_console

    cache = _open(cache_dir)
    try:
        found = cache.stats()
    finally:
        cache.close()
    if as_json:
        print_json(
            {
                "directory": found.directory,
                "entries": found.entries,
                "size_bytes": found.size_bytes,
                "oldest": found.oldest,
                "newest": found.newest,
            }
        )
        return
    make_console().print(
        f"{found.directory}: {found.entries:,} entries, {found.size_bytes / 1024:,.0f} KiB; "
        f"oldest {_when(found.oldest)}, newest {_when(found.newest)}",
        markup=False,
    )


@cache_app.command("clear")
def clear(
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Only entries older than this: 90s, 30m, 12h, 7d, 2w."),
    ] = None,
    cache_dir: CacheDirOption = None,
) -> None:
    """Remove cached answers (all, or only old ones)."""
    from agentflow.render.console import make_console

    seconds = parse_duration(older_than, "--older-than") if older_than is not None else None
    cache = _open(cache_dir)
    try:
        removed = cache.clear(seconds)
    finally:
        cache.close()
    what = f" older than {older_than}" if older_than else ""
    make_console().print(f"removed {removed:,} cached answers{what}", markup=False)
