"""What prompt caching saves a 10-turn tool-use loop, and what a re-run of it sends.

One task (`model: haiku`, `tools: [get_state]`, `max_turns: 12`, a ~4,000-word prompt so the
conversation prefix is long enough to cache) runs as `agentflow run` would (a subprocess,
provider `anthropic`, the real SDK) against the loopback Messages API server, whose
responder has the model call `get_state` on turns 1..9 and answer on turn 10.

1. Prompt caching: the loop run twice, each in a fresh state folder, with `--no-cache` (so
   the response cache answers nothing), with prompt caching (the default) and with
   `--no-prompt-cache`. Printed per run: requests the server saw, `totals.cost_usd` from
   `--json`, cache read and write tokens; the cost ratio cached / uncached; and the bill
   recomputed from the server's own usage log (each reply's usage priced as haiku) against
   our total.
2. Re-run: the loop run with default flags in a fresh state folder, then again in the same
   folder. Printed: requests the server saw on the re-run (every turn should come from the
   response cache: 0) and the task's status and turns from `--json`.

Prints figures only; asserts nothing about time. Exits 0 whatever the figures.

    python benchmarks/tool_loop.py
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentflow.prices import Usage, load_prices  # noqa: E402
from tests.support.messages_server import MessagesServer, RecordedRequest, Reply  # noqa: E402

MODEL = "haiku"
TOOL_TURNS = 9  # get_state on turns 1..9, the answer on turn 10
MAX_TURNS = 12
PROMPT_WORDS = 4_000
COMMAND = "python benchmarks/tool_loop.py"


def long_prompt(words: int = PROMPT_WORDS) -> str:
    """A deterministic brief of about `words` words, then the instruction."""
    vocabulary = [
        "release",
        "build",
        "service",
        "cache",
        "request",
        "budget",
        "token",
        "agent",
        "review",
        "module",
        "schema",
        "deploy",
        "rollback",
        "metric",
        "latency",
        "queue",
        "worker",
        "handler",
        "config",
        "migration",
        "index",
        "customer",
        "invoice",
        "ledger",
        "report",
        "audit",
        "policy",
        "access",
        "storage",
        "network",
        "replica",
    ]
    rng = random.Random(7)
    lines = []
    for number in range(1, words // 40 + 1):
        lines.append(f"{number}. " + " ".join(rng.choice(vocabulary) for _ in range(40)) + ".")
    lines.append(
        "Call get_state with key `progress` until it reports the work is finished, "
        "then answer with a one-line status."
    )
    return "\n".join(lines) + "\n"


def workflow() -> str:
    task = {
        "model": MODEL,
        "tools": ["get_state"],
        "max_turns": MAX_TURNS,
        "max_tokens": 256,
        "prompt": long_prompt(),
    }
    return yaml.safe_dump(
        {"version": 1, "name": "tool-loop", "tasks": {"loop": task}}, sort_keys=False, width=100
    )


def turn_of(request: RecordedRequest) -> int:
    """The model turn a request is: turn n carries 2n - 1 messages."""
    return (len(request.body.get("messages") or []) + 1) // 2


def respond(request: RecordedRequest) -> Reply:
    turn = turn_of(request)
    if turn <= TOOL_TURNS:
        return Reply.tool_use("get_state", {"key": "progress"}, id=f"toolu_turn{turn:02d}")
    return Reply(text=f"Finished after {turn - 1} checks of the progress key.")


def run(path: Path, env: dict[str, str], home: Path, *flags: str) -> tuple[dict, float]:
    # The agentflow of this checkout, whatever is installed.
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "agentflow", "run", str(path), "--json", *flags],
        capture_output=True,
        text=True,
        env={**env, "AGENTFLOW_HOME": str(home), "PYTHONPATH": pythonpath},
        cwd=path.parent,
    )
    elapsed = time.perf_counter() - start
    try:
        return json.loads(done.stdout), elapsed
    except ValueError:
        sys.exit(f"run {' '.join(flags)} failed ({done.returncode}): {done.stderr[-800:]}")


def bill(usage_log: list[dict]) -> float:
    """The server's replies priced as haiku: what the API would have billed."""
    prices = load_prices()
    return sum(prices.cost(MODEL, Usage(**usage)) for usage in usage_log)


def main() -> None:
    prices = load_prices()
    minimum = prices.price(MODEL).min_cache_tokens
    print(f"""# Tool-use loop: prompt caching and re-runs ({COMMAND})
One task, model {MODEL} ({prices.resolve(MODEL)}), tools [get_state], max_turns {MAX_TURNS}, a
~{PROMPT_WORDS:,}-word prompt; the loopback server has the model call get_state on turns
1..{TOOL_TURNS} and answer on turn {TOOL_TURNS + 1}. Real SDK, `agentflow run` as a subprocess.
The server caches prefixes of at least {minimum:,} of its tokens (haiku's min_cache_tokens);
its tokens are ceil(chars / 4).
  requests   POST /v1/messages the server answered during the run
  cost       totals.cost_usd of `--json`
  cache r/w  totals.cache_read_input_tokens / totals.cache_creation_input_tokens
  bill       the server's usage log, each reply priced as {MODEL}; diff = cost - bill
             (--json rounds costs to 8 decimals)""")
    with tempfile.TemporaryDirectory() as tmp, MessagesServer(min_cache_tokens=minimum) as server:
        folder = Path(tmp)
        path = folder / "tool-loop.yaml"
        path.write_text(workflow(), encoding="utf-8")
        server.responder = respond
        env = {**os.environ, "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "bench"}
        env.pop("AGENTFLOW_CACHE_DIR", None)  # the response cache lives in each state folder

        print("\n## 1. Prompt caching (--no-cache on both runs: every turn is sent)")
        header = (
            f"{'run':<18}{'status':>10}{'turns':>6}{'requests':>9}{'input':>8}{'cache r':>9}"
            f"{'cache w':>9}{'output':>7}{'cost':>11}{'bill':>11}{'diff':>10}{'time':>7}"
        )
        print(f"{header}\n{'-' * len(header)}")
        costs: dict[str, float] = {}
        problems: list[str] = []
        for label, flags in [
            ("prompt cache", ("--no-cache",)),
            ("no prompt cache", ("--no-cache", "--no-prompt-cache")),
        ]:
            server.reset()
            summary, elapsed = run(path, env, folder / label.replace(" ", "-"), *flags)
            totals, task = summary["totals"], summary["tasks"]["loop"]
            requests = server.count("/v1/messages")
            billed = bill(server.usage_log)
            costs[label], diff = totals["cost_usd"], totals["cost_usd"] - billed
            print(
                f"{label:<18}{task['status']:>10}{task['turns']:>6}{requests:>9}"
                f"{totals['input_tokens']:>8,}{totals['cache_read_input_tokens']:>9,}"
                f"{totals['cache_creation_input_tokens']:>9,}{totals['output_tokens']:>7,}"
                f"{totals['cost_usd']:>11.6f}{billed:>11.6f}{diff:>+10.1e}"
                f"{elapsed:>6.2f}s"
            )
            if label == "prompt cache":
                per_turn = [prices.cost(MODEL, Usage(**u)) for u in server.usage_log]
                split = per_turn[:2] + [sum(per_turn[2:])]
            if requests != TOOL_TURNS + 1:
                problems.append(f"{label}: {requests} requests, expected {TOOL_TURNS + 1}")
            if abs(diff) > 1e-6:
                problems.append(f"{label}: --json cost differs from the bill by more than $1e-6")
            if server.errors:
                problems.append(f"{label}: server errors: {server.errors[:1]}")
        ratio = costs["prompt cache"] / costs["no prompt cache"]
        print(f"cost ratio, prompt cache / no prompt cache: {ratio:.3f}")
        print(
            f"prompt-cache run's bill by turn: turn 1 ${split[0]:.6f}, turn 2 ${split[1]:.6f}, "
            f"turns 3..{len(per_turn)} ${split[2]:.6f} (the server's usage log, in order)"
        )

        print("\n## 2. Re-run with default flags (response cache on), same state folder")
        home = folder / "rerun"
        for label in ("first run", "re-run"):
            server.reset()
            summary, elapsed = run(path, env, home)
            task, totals = summary["tasks"]["loop"], summary["totals"]
            requests = server.count()
            print(
                f"{label:<10} {requests:>2} requests, task {task['status']}, "
                f"{task['turns']} turns, {task['tool_calls']} tool calls, "
                f"source {task['source']}, cost ${totals['cost_usd']:.6f}, "
                f"saved ${totals['saved_usd']:.6f}, {elapsed:.2f}s"
            )
        if requests != 0:
            problems.append(f"re-run: {requests} requests, expected 0")

    print("\nunexpected: " + ("; ".join(problems) if problems else "nothing"))


if __name__ == "__main__":
    main()
