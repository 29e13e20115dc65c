"""How long `agentflow` takes to start, against what it must import anyway.

Everything runs as a user would run it (a subprocess of this interpreter, the `agentflow`
console script next to it, else `python -m agentflow`); nothing of the package is imported
here. Each timed command runs --repeats times (default 5), interleaved with the commands it
is compared with (A, B, A, B, ...) so machine noise hits all of them; median and min printed.

1. `agentflow --help` against `python -c "import typer, rich.console"` (target: <= 1.5x).
2. `agentflow validate WF` and `agentflow plan WF` for each of workflows/*.yaml.
3. Launch to first request, against the loopback Messages API server: from just before
   `Popen` to the server receiving the process's first POST /v1/messages, for
   `agentflow run workflows/release-notes.yaml --no-cache --quiet` (a fresh AGENTFLOW_HOME
   each run), a six-line script calling the SDK the plain way (target: agentflow <= 1.1x
   of it), and a LangGraph script when langgraph and langchain_anthropic are importable.
   The whole process's wall time (interpreter teardown included) is printed too.

Prints figures only; asserts nothing. A failed command prints its stderr tail and counts as
a missing sample. Exits 0.

    python benchmarks/startup.py [--repeats 5] [--only help|plan|run]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import DEVNULL, PIPE
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.messages_server import MessagesServer  # noqa: E402

COMMAND = "python benchmarks/startup.py"
WORKFLOW = "workflows/release-notes.yaml"  # its inputs all have defaults: no --set needed
API_KEY = "sk-ant-bench"
TARGET_HELP, TARGET_RUN = 1.5, 1.1
PREFIXES = ("AGENTFLOW_", "ANTHROPIC_")
TIMEOUT = 120.0  # seconds per process; a hung one is killed and counts as failed
BASELINE = "import typer, rich.console"
SDK_SCRIPT = """\
import anthropic

client = anthropic.Anthropic(base_url=BASE_URL, api_key=API_KEY)
client.messages.create(
    model="claude-haiku-5-5", max_tokens=256, messages=[{"role": "user", "content": "hi"}]
)
"""
LANGGRAPH_SCRIPT = """\
from langchain_anthropic import ChatAnthropic
from langgraph.graph import END, START, MessagesState, StateGraph

model = ChatAnthropic(
    model="claude-haiku-5-5", max_tokens=256, base_url=BASE_URL, api_key=API_KEY
)
graph = StateGraph(MessagesState)
graph.add_node("call", lambda state: {"messages": [model.invoke(state["messages"])]})
graph.add_edge(START, "call")
graph.add_edge("call", END)
graph.compile().invoke({"messages": [("user", "hi")]})
"""

T = TypeVar("T")


def agentflow() -> list[str]:
    script = Path(sys.executable).parent / "agentflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "agentflow"]


def script(source: str, url: str) -> list[str]:
    code = source.replace("BASE_URL", repr(url)).replace("API_KEY", repr(API_KEY))
    return [sys.executable, "-c", code]


def complain(label: str, why: str, stderr: str | bytes | None) -> None:
    """Print why a run failed and the tail of its stderr (and return None for the caller)."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr or ""
    tail = "\n".join("    | " + line for line in text.strip().splitlines()[-8:])
    print(f"  ! {label}: {why}" + (f"\n{tail}" if tail else ""), flush=True)


def spawn(label: str, command: list[str], env: dict[str, str]) -> tuple[float, float] | None:
    """(t0 just before Popen, exit), time.monotonic(); None, reported, when the command fails."""
    t0 = time.monotonic()
    try:
        process = subprocess.Popen(command, stdout=DEVNULL, stderr=PIPE, env=env, cwd=ROOT)
    except OSError as error:
        return complain(label, f"could not start: {error}", None)
    try:
        _, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return complain(label, f"killed after {TIMEOUT:g} s", process.communicate()[1])
    if process.returncode != 0:
        return complain(label, f"exit status {process.returncode}", stderr)
    return t0, time.monotonic()


def wall(label: str, command: list[str], env: dict[str, str]) -> float | None:
    times = spawn(label, command, env)
    return times[1] - times[0] if times else None


def launch(
    label: str, command: list[str], env: dict[str, str], server: MessagesServer
) -> tuple[float, float] | None:
    """(first POST /v1/messages received - t0, exit - t0) for one process, or None."""
    server.reset()  # only this process's requests from here on
    times = spawn(label, command, env)
    if times is None:
        return None
    t0, ended = times
    # The process has ended, so every request it made was recorded (each before its reply).
    firsts = [
        r.received_at
        for r in list(server.requests)
        if r.method == "POST" and r.path == "/v1/messages" and r.received_at >= t0
    ]
    if not firsts:
        return complain(label, "exit 0 without a POST /v1/messages", None)
    if server.errors:
        complain(label, "the server hit an error (figures kept)", server.errors[-1])
    return min(firsts) - t0, ended - t0


def interleave(jobs: dict[str, Callable[[], T | None]], repeats: int) -> dict[str, list[T]]:
    """Each job once per round, in order, `repeats` rounds; failed runs leave no sample."""
    samples: dict[str, list[T]] = {name: [] for name in jobs}
    for _ in range(repeats):
        for name, job in jobs.items():
            result = job()
            if result is not None:
                samples[name].append(result)
    return samples


def cell(values: list[float]) -> str:
    """Median and min, 16 characters."""
    if not values:
        return f"{'failed':>16}"
    return f"{statistics.median(values):>7.3f}s{min(values):>7.3f}s"


def missing(repeats: int, **columns: list[float]) -> str:
    gaps = [f"{name} {len(v)}/{repeats} ok" for name, v in columns.items() if len(v) < repeats]
    return f"  ({', '.join(gaps)})" if gaps else ""


def ratio(top: list[float], bottom: list[float], target: float) -> str:
    if not top or not bottom:
        return f"n/a (a side has no samples); target <= {target}x"
    value = statistics.median(top) / statistics.median(bottom)
    verdict = "met" if value <= target else "NOT met"
    return f"{value:.2f}x (medians; target <= {target}x: {verdict})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command")
    parser.add_argument(
        "--only", choices=("help", "plan", "run"), help="one section: 1 help, 2 plan, 3 run"
    )
    args = parser.parse_args()
    repeats, only = max(1, args.repeats), args.only
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    af = agentflow()
    # pip byte-compiles the SDK when it installs it; an editable install of agentflow is
    # not, and with PYTHONDONTWRITEBYTECODE set (as on these machines) every start would
    # compile agentflow from source. Compile it once, as a regular install would have.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "agentflow")], check=True)
    print(f"# agentflow start-up ({COMMAND} --repeats {repeats})")
    version = platform.python_version()
    print(f"cpus {os.cpu_count()}, load average {load} (1, 5, 15 min), python {version}")
    print(f"agentflow: {' '.join(af)}; {repeats} interleaved runs each, median and min\n")
    # Nothing of the caller's agentflow or Anthropic settings leaks into the runs.
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        env = {**base_env, "AGENTFLOW_HOME": str(Path(tmp) / "home")}

        if only in (None, "help"):
            help_section(af, env, repeats)
        if only in (None, "plan"):
            plan_section(af, env, repeats)
        if only in (None, "run"):
            run_section(af, env, repeats, tmp)
    print(f"rerun: {COMMAND}")


def help_section(af: list[str], env: dict[str, str], repeats: int) -> None:
    print("## 1. --help against importing typer and rich.console")
    help_jobs: dict[str, Callable[[], float | None]] = {
        "baseline": lambda: wall("baseline", [sys.executable, "-c", BASELINE], env),
        "--help": lambda: wall("--help", [*af, "--help"], env),
    }
    samples = interleave(help_jobs, repeats)
    print(f"{'':<40}{'median':>8}{'min':>8}")
    for name, shown in (
        ("baseline", f"python -c {BASELINE!r}"),
        ("--help", "agentflow --help"),
    ):
        print(f"{shown:<40}{cell(samples[name])}{missing(repeats, runs=samples[name])}")
    help_ratio = ratio(samples["--help"], samples["baseline"], TARGET_HELP)
    print(f"ratio --help / baseline: {help_ratio}")


def plan_section(af: list[str], env: dict[str, str], repeats: int) -> None:
    print("\n## 2. validate and plan (cwd: the repository, AGENTFLOW_HOME: a temp folder)")
    workflows = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("workflows/*.yaml"))
    jobs: dict[str, Callable[[], float | None]] = {}
    for wf in workflows:
        for verb in ("validate", "plan"):
            label = f"{verb} {wf}"
            jobs[label] = lambda c=[*af, verb, wf], label=label: wall(label, c, env)
    samples = interleave(jobs, repeats)
    print(f"{'':<34}{'validate':>16}  {'plan':>16}")
    print(f"{'workflow':<34}{'median':>8}{'min':>8}  {'median':>8}{'min':>8}")
    for wf in workflows:
        checks, plans = samples[f"validate {wf}"], samples[f"plan {wf}"]
        gaps = missing(repeats, validate=checks, plan=plans)
        print(f"{wf:<34}{cell(checks)}  {cell(plans)}{gaps}")


def run_section(af: list[str], env: dict[str, str], repeats: int, tmp: str) -> None:
    print("\n## 3. Launch to first request (loopback Messages API server, default replies)")
    with MessagesServer() as server:
        api_env = {
            **env,
            "ANTHROPIC_BASE_URL": server.url,
            "ANTHROPIC_API_KEY": API_KEY,
            "AGENTFLOW_RETRY_BASE_DELAY": "0.01",
        }
        runs = iter(range(10**6))

        def run_agentflow() -> tuple[float, float] | None:
            fresh = {**api_env, "AGENTFLOW_HOME": str(Path(tmp) / f"run-{next(runs)}")}
            command = [*af, "run", WORKFLOW, "--provider", "anthropic", "--no-cache", "--quiet"]
            return launch("agentflow run", command, fresh, server)

        contenders: dict[str, Callable[[], tuple[float, float] | None]] = {
            "agentflow run": run_agentflow,
            "six-line SDK script": lambda: launch(
                "six-line SDK script", script(SDK_SCRIPT, server.url), api_env, server
            ),
        }
        if all(importlib.util.find_spec(m) for m in ("langgraph", "langchain_anthropic")):
            contenders["LangGraph script"] = lambda: launch(
                "LangGraph script", script(LANGGRAPH_SCRIPT, server.url), api_env, server
            )
        else:
            print("(LangGraph script skipped: langgraph or langchain_anthropic not installed)")
        results = interleave(contenders, repeats)
    print(f"{'':<22}{'first request':>16}  {'whole process':>16}")
    print(f"{'contender':<22}{'median':>8}{'min':>8}  {'median':>8}{'min':>8}")
    firsts = {name: [r[0] for r in rows] for name, rows in results.items()}
    for name, rows in results.items():
        whole = [r[1] for r in rows]
        print(f"{name:<22}{cell(firsts[name])}  {cell(whole)}{missing(repeats, runs=whole)}")
    first_ratio = ratio(firsts["agentflow run"], firsts["six-line SDK script"], TARGET_RUN)
    print(f"ratio agentflow run / six-line SDK script, first request: {first_ratio}")


if __name__ == "__main__":
    main()
