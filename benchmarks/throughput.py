"""Requests per second at zero latency: `agentflow run` against the SDK alone.

A loopback Messages API server (tests/support/messages_server.py, answering at once) runs
in a process of its own. Against it, at each concurrency:

1. agentflow: `agentflow run` through the CLI, the real anthropic provider pointed at the
   server with ANTHROPIC_BASE_URL, N independent tasks, `--concurrency C`, `--no-cache`,
   the history on (a temporary AGENTFLOW_HOME), `--json` on stdout;
2. the SDK alone: `AsyncAnthropic(max_retries=0)` sending the same N requests,
   at most C at a time (an asyncio.Semaphore), in this process.

Requests per second are counted by the server (from its first request to its last), so
neither side's start-up nor agentflow's final output counts; the server also reports the
most requests it saw in flight at once. The two sides alternate, run after run, and the
medians are printed side by side with agentflow's rate over the SDK's (target: at least
0.9x at concurrency 50, with its slots filled). Exits 0 whatever the figures.

    python benchmarks/throughput.py                  # 2,000 requests at 20, 50, 100 (~5 min)
    python benchmarks/throughput.py --tasks 500 --concurrency 50 --repeat 1   # a quick look
    python benchmarks/throughput.py --latency 0.2 --concurrency 50   # are the slots filled?

At zero latency a Python server answers one request at a time, so "in flight" says little
there; with `--latency` it shows whether each side keeps its slots full.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "claude-haiku-5-5"
MAX_TOKENS = 64
SYSTEM = "You answer in one short sentence."


def prompt(i: int) -> str:
    return f"Say something short about item {i}."


def serve(latency: float) -> None:
    """The server process: prints its URL, then answers `stats` and `reset` on stdin."""
    from tests.support.messages_server import MessagesServer, Reply

    responder = (lambda request: Reply(delay=latency)) if latency else None
    with MessagesServer(responder=responder) as server:
        print(server.url, flush=True)
        for line in sys.stdin:
            if line.strip() == "reset":
                server.reset()
                print("ok", flush=True)
            elif line.strip() == "stats":
                times = [r.received_at for r in server.requests if r.path == "/v1/messages"]
                span = max(times) - min(times) if len(times) > 1 else 0.0
                stats = {"requests": len(times), "span": span, "max": server.max_in_flight}
                print(json.dumps(stats), flush=True)


class Server:
    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--latency", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def stats(self) -> dict[str, float]:
        stats = json.loads(self.ask("stats"))
        stats["rate"] = (stats["requests"] - 1) / stats["span"] if stats["span"] else 0.0
        return stats

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def workflow(tasks: int) -> str:
    lines = [
        "version: 1",
        "name: throughput",
        f"defaults: {{model: {MODEL}, max_tokens: {MAX_TOKENS}, agent: brief}}",
        "agents: agents",
        "tasks:",
    ]
    lines += [f'  t{i}: {{prompt: "{prompt(i)}"}}' for i in range(tasks)]
    return "\n".join(lines) + "\n"


def agentflow_run(server: Server, tasks: int, concurrency: int) -> dict[str, float]:
    server.ask("reset")
    with tempfile.TemporaryDirectory(prefix="agentflow-throughput-") as tmp:
        folder = Path(tmp)
        (folder / "agents").mkdir()
        (folder / "agents" / "brief.md").write_text(
            f"---\nname: brief\ndescription: Brief answers.\n---\n{SYSTEM}\n"
        )
        (folder / "wf.yaml").write_text(workflow(tasks))
        env = {
            **os.environ,
            "ANTHROPIC_BASE_URL": server.url,
            "ANTHROPIC_API_KEY": "k",
            "AGENTFLOW_HOME": str(folder / "state"),
        }
        command = [
            sys.executable, "-m", "agentflow", "run", str(folder / "wf.yaml"),
            "--concurrency", str(concurrency), "--no-cache", "--json",
        ]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"agentflow run exited {done.returncode}: {done.stderr[-2000:]}")
    stats = server.stats()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stats["cpu_ms"] = cpu / tasks * 1000
    return stats


async def _sdk(url: str, tasks: int, concurrency: int) -> None:
    import anthropic

    client = anthropic.AsyncAnthropic(api_key="k", base_url=url, max_retries=0)
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            await client.messages.create(
                model=MODEL,
                max_tokens=MAX_TOKENS,
                system=SYSTEM,
                messages=[{"role": "user", "content": prompt(i)}],
            )

    await asyncio.gather(*(one(i) for i in range(tasks)))
    await client.close()


def sdk_run(server: Server, tasks: int, concurrency: int) -> dict[str, float]:
    import anthropic  # noqa: F401 - loaded before the clock, as agentflow does

    server.ask("reset")
    started = time.process_time()
    asyncio.run(_sdk(server.url, tasks, concurrency))
    stats = server.stats()
    stats["cpu_ms"] = (time.process_time() - started) / tasks * 1000
    return stats


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, default=2000, help="requests per run (2000)")
    parser.add_argument(
        "--concurrency", default="20,50,100", help="comma-separated (default 20,50,100)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each side, interleaved; medians (3)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="the server's seconds per answer (0)"
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.latency)
        return
    server = Server(args.latency)
    try:
        print(
            f"{args.tasks} requests, server latency {args.latency:g}s, loopback server in its "
            f"own process; medians of {args.repeat} interleaved runs"
        )
        head = f"{'conc':>5} | {'SDK req/s':>9} {'in flight':>9} {'CPU ms':>7}"
        head += f" | {'agentflow req/s':>15} {'in flight':>9} {'CPU ms':>7} | {'ratio':>6}"
        print(head)
        base = agentflow_run(server, 1, 1)["cpu_ms"]  # start-up and the end, per run
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            sdks, ours = [], []
            for _ in range(args.repeat):
                sdks.append(sdk_run(server, args.tasks, concurrency))
                ours.append(agentflow_run(server, args.tasks, concurrency))
            ratios = [o["rate"] / s["rate"] for o, s in zip(ours, sdks, strict=True)]
            cpu = median(ours, "cpu_ms") - base / args.tasks
            print(
                f"{concurrency:>5} | {median(sdks, 'rate'):>9.0f} {median(sdks, 'max'):>9.0f}"
                f" {median(sdks, 'cpu_ms'):>7.2f} | {median(ours, 'rate'):>15.0f}"
                f" {median(ours, 'max'):>9.0f} {cpu:>7.2f} | {statistics.median(ratios):>5.2f}x",
                flush=True,
            )
    finally:
        server.close()
    print(
        "ratio: the median of agentflow's rate over the SDK's, run by run. CPU ms per request:\n"
        "agentflow's whole process less a 1-task run's (start-up, validate, plan, the end);\n"
        "the SDK's sending alone. In flight: the most requests the server held at once."
    )


if __name__ == "__main__":
    main()
