"""The file tools beside a large virtualenv: Glob and Grep never walk a withheld folder.

Builds a project of PROJECT .py files and, beside it, a `.venv` of VENV files, then times
`Glob **/*.py` and `Grep` over the workspace with and without the `.venv` present, and
prints the ratio (about 1: the virtualenv costs nothing) and what Glob listed. Also reads
the first lines of a 50 GB sparse file with `Read`.

    python benchmarks/file_tools.py [--project 2000] [--venv 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentflow.events import EventLog  # noqa: E402
from agentflow.tools.base import ToolCall, ToolContext  # noqa: E402
from agentflow.tools.files import Workspace, file_tools  # noqa: E402


def run(root: Path, name: str, **inputs: object) -> tuple[float, str]:
    tool = file_tools(Workspace(root))[name]
    started = time.perf_counter()
    result = asyncio.run(tool.run(ToolCall("1", name, inputs), ToolContext("b", None, EventLog())))
    return time.perf_counter() - started, result.content


def best(root: Path, name: str, repeat: int = 5, **inputs: object) -> tuple[float, str]:
    runs = [run(root, name, **inputs) for _ in range(repeat)]
    return min(seconds for seconds, _ in runs), runs[0][1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=int, default=2000)
    parser.add_argument("--venv", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "project"
        for n in range(args.project):
            path = root / f"pkg{n % 40}" / f"mod{n}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"def f{n}():\n    return {n}\n")
        venv = Path(folder) / "venv"
        (venv / "lib" / "site-packages").mkdir(parents=True)
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        for n in range(args.venv):
            (venv / "lib" / "site-packages" / f"dep{n}.py").write_text("x = 1\n")

        without_glob, _ = best(root, "Glob", pattern="**/*.py")
        without_grep, _ = best(root, "Grep", pattern="return 17$")
        shutil.move(str(venv), str(root / ".venv"))
        with_glob, listed = best(root, "Glob", pattern="**/*.py")
        with_grep, found = best(root, "Grep", pattern="return 17$")
        print(f"project: {args.project} .py files; .venv beside it: {args.venv} files")
        print(f"{'call':<22} {'no .venv':>10} {'with .venv':>11} {'ratio':>7}")
        for call, alone, beside in (
            ("Glob **/*.py", without_glob, with_glob),
            ("Grep 'return 17$'", without_grep, with_grep),
        ):
            print(f"{call:<22} {alone:>9.3f}s {beside:>10.3f}s {beside / alone:>6.2f}x")
        lines = listed.splitlines()
        venv_lines = sum(line.startswith(".venv/") for line in lines)
        print(f"Glob listed {len(lines)} lines, {venv_lines} of them in .venv; Grep: {found!r}")

        big = Path(folder) / "huge.log"
        with big.open("wb") as handle:
            handle.write(b"".join(b"event %d\n" % n for n in range(1, 2001)))
            handle.truncate(50 * 1024**3)
        seconds, shown = run(Path(folder), "Read", file_path="huge.log", limit=5)
        print(f"Read of 5 lines of a 50 GB sparse file: {seconds:.3f}s ({shown.splitlines()[-1]})")


if __name__ == "__main__":
    main()
