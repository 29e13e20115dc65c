"""How well `agent: auto` picks agents: top-1/top-3 accuracy and speed on the agent corpus.

Indexes all 400 files of ../shared/agent-corpus (duplicate names included: any file with an
accepted name counts), runs every task of benchmarks/data/agent_queries.jsonl and prints
accuracy (all, and split into the even lines the ranking knobs were chosen on and the odd
lines they never were), latency, index build time, the misses, how often `weak` fires, and
whether the targets are met: top-3 >= 85 %, a query < 20 ms, a build < 300 ms.

    python benchmarks/discovery.py [--corpus DIR] [--queries FILE] [--show-hits]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentflow.routing import discovery  # noqa: E402
from agentflow.routing.discovery import AgentIndex, weak_reason  # noqa: E402
from agentflow.spec.agents import discover_agents  # noqa: E402

CORPUS = ROOT.parent / "shared" / "agent-corpus"
QUERIES = ROOT / "benchmarks" / "data" / "agent_queries.jsonl"
TARGET_TOP3, TARGET_QUERY_MS, TARGET_BUILD_MS = 0.85, 20.0, 300.0
# Prompts no agent of the corpus is for: `weak` should flag them.
OFF_TOPIC = [
    "Bake a chocolate cake for twelve people",
    "What should I name my new puppy?",
    "Plan a two-week trip to Japan in April",
    "Translate this poem into French",
    "Write a birthday message for my grandmother",
    "Recommend some good sci-fi novels",
    "How do I fix a leaking kitchen faucet?",
    "Suggest a weekly workout routine for beginners",
    "Which houseplants survive in low light?",
    "Help me choose a wedding venue",
    "Compose lyrics for a country song about trucks",
    "What's a good recipe for vegan lasagna?",
    "hello",
    "Do the thing we talked about yesterday",
]


def load_queries(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        row["accept"] = set(row["agent"] if isinstance(row["agent"], list) else [row["agent"]])
    return rows


def cold_build_ms(agents: list, repeat: int = 5) -> tuple[float, AgentIndex]:
    """Median build time with the word caches emptied first, as in a fresh CLI process."""
    times, index = [], None
    for _ in range(repeat):
        discovery.stem.cache_clear()
        discovery._term.cache_clear()
        start = time.perf_counter()
        index = AgentIndex.build(agents)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), index


def reference_loop_ms() -> float:
    """A fixed pure-Python loop, timed: how fast this machine is right now (shared VMs vary)."""
    start = time.perf_counter()
    sum(range(3_000_000))
    return (time.perf_counter() - start) * 1000


def percent(hits: int, total: int) -> str:
    return f"{hits / total:6.1%} ({hits}/{total})" if total else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--show-hits", action="store_true", help="print every query's top 3")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"skipped: no agent corpus at {args.corpus} (pass --corpus DIR)")
        return
    agents = list(discover_agents([args.corpus]).loaded)
    rows = load_queries(args.queries)
    reference_ms = reference_loop_ms()
    build_ms, index = cold_build_ms(agents)

    latencies, misses, top1, top3 = [], [], [0, 0], [0, 0]
    weak = {"correct": [0, 0], "wrong": [0, 0]}
    for i, row in enumerate(rows):
        start = time.perf_counter()
        matches = index.match(row["query"], top=5)
        latencies.append((time.perf_counter() - start) * 1000)
        names = [m.name for m in matches[:3]]
        first = bool(names) and names[0] in row["accept"]
        top1[i % 2] += first
        top3[i % 2] += bool(row["accept"] & set(names))
        kind = "correct" if first else "wrong"
        weak[kind][0] += weak_reason(matches) is not None
        weak[kind][1] += 1
        if not row["accept"] & set(names):
            misses.append((row, matches[:3]))
        if args.show_hits:
            print(f"{'ok ' if first else '   '}{row['query'][:70]:70}  {', '.join(names)}")
    off_flagged = sum(weak_reason(index.match(q, top=5)) is not None for q in OFF_TOPIC)

    n, n_dev = len(rows), (len(rows) + 1) // 2
    lat = sorted(latencies)
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
    print(f"corpus: {len(agents)} agent files ({len(set(a.name for a in agents))} names)")
    print(f"queries: {n} ({sum(len(r['accept']) > 1 for r in rows)} accept several names)")
    print()
    print(f"{'':28}{'top-1':>18}{'top-3':>18}")
    for label, k in (("all", None), ("tuning half (even lines)", 0), ("held-out (odd lines)", 1)):
        t1 = sum(top1) if k is None else top1[k]
        t3 = sum(top3) if k is None else top3[k]
        total = n if k is None else (n_dev if k == 0 else n - n_dev)
        print(f"{label:28}{percent(t1, total):>18}{percent(t3, total):>18}")
    print()
    print(
        f"index build: {build_ms:.0f} ms (median of 5 cold builds; for scale, "
        f"sum(range(3_000_000)) took {reference_ms:.0f} ms on this machine)"
    )
    print(
        f"query latency: mean {statistics.mean(latencies):.2f} ms, p95 {p95:.2f} ms, "
        f"max {max(latencies):.2f} ms"
    )
    print(
        f"weak flag: {percent(*weak['correct'])} of correct first picks, "
        f"{percent(*weak['wrong'])} of wrong ones, "
        f"{percent(off_flagged, len(OFF_TOPIC))} of off-topic prompts"
    )
    print()
    print(f"misses (expected agent not in the top 3): {len(misses)}")
    for row, matches in misses:
        got = ", ".join(f"{m.name} {m.score:.1f}" for m in matches) or "(nothing)"
        print(f"  - {row['query']}\n    expected {sorted(row['accept'])}\n    got {got}")
    print()
    accuracy = sum(top3) / n
    checks = [
        (f"top-3 accuracy >= {TARGET_TOP3:.0%}", accuracy >= TARGET_TOP3, f"{accuracy:.1%}"),
        (f"query < {TARGET_QUERY_MS:.0f} ms", max(latencies) < TARGET_QUERY_MS, "max"),
        (f"index build < {TARGET_BUILD_MS:.0f} ms", build_ms < TARGET_BUILD_MS, f"{build_ms:.0f}"),
    ]
    for label, ok, value in checks:
        print(f"{'met' if ok else 'NOT met':8} {label} ({value})")


if __name__ == "__main__":
    main()
