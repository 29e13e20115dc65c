"""Large workflows: validate and plan grow linearly with the file, and refuse, clearly and
before building it, a file over the limits (README.md, "Limits")."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentflow.spec.graph import TaskGraph
from agentflow.validate.common import EXHAUSTIVE_CHOICES, did_you_mean
from tests.cli_helpers import run_cli


def chain(tasks: int, *, extra: dict[int, str] | None = None) -> str:
    """A chain t0 -> t1 -> ...; each task reads its need and t0 (upstream, not a need)."""
    lines = ["version: 1", "name: big", "defaults: {model: haiku}", "tasks:", "  t0:"]
    lines.append("    prompt: start")
    for i in range(1, tasks):
        prompt = (extra or {}).get(i, f"go on from {{{{ tasks.t{i - 1}.output }}}}")
        lines += [
            f"  t{i}:",
            f"    needs: [t{i - 1}]",
            f'    prompt: "{prompt} with {{{{ tasks.t0.output }}}}"',
        ]
    return "\n".join(lines) + "\n"


# Runs agentflow's command line, then writes the process's peak memory to a file (VmHWM:
# of this program alone, unlike ru_maxrss, which counts the parent's pages a child starts
# with).
_MEASURED = """
import sys
from agentflow.cli.app import main
where = sys.argv.pop(1)
try:
    main()
finally:
    status = open("/proc/self/status").read()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    open(where, "w").write(kib)
"""


def run_child(args: list[str], cwd: Path, timeout: float) -> tuple[int, str, str, float]:
    """`agentflow ARGS` in a fresh process: exit code, stdout, stderr, peak memory in MB."""
    peak = cwd / "child.peak"
    child = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(peak), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "AGENTFLOW_HOME": str(cwd / ".home")},
    )
    return child.returncode, child.stdout, child.stderr, int(peak.read_text()) / 1024


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(capsys, tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(4 * 1024**3)  # sparse: 4 GB that take no disk and must not be read
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert result.err.strip() == (
        f"{path}: error: workflow file is 4,096.0 MB; the limit is 16 MB "
        "(split it into smaller workflows; see Limits in README.md)"
    )


@pytest.mark.slow  # seconds: 100,001 tasks to read
def test_more_tasks_than_the_limit_are_refused(capsys, tmp_path):
    path = tmp_path / "many.yaml"
    body = "".join(f"  t{i}: {{prompt: x}}\n" for i in range(100_001))
    path.write_text(f"version: 1\nname: many\ntasks:\n{body}")
    result = run_cli(capsys, "plan", str(path))
    assert result.code == 2
    assert result.err.strip() == (
        f"{path}: error: the workflow has 100,001 tasks; the limit is 100,000 "
        "(split it into smaller workflows; see Limits in README.md)"
    )


@pytest.mark.slow  # seconds: a fresh interpreter, 2,000,000 values to count
def test_a_document_of_too_many_values_is_refused_without_building_them(tmp_path):
    # 4.2 MB of `a,a,a,...`: building its 2.1 million values would take ~700 MB.
    path = tmp_path / "values.yaml"
    path.write_text("version: 1\nname: v\ntasks: {}\nstuff: [" + "a," * 2_100_000 + "a]\n")
    code, _, err, peak_mb = run_child(["validate", str(path)], tmp_path, timeout=120)
    assert code == 2
    assert err.strip() == (
        f"{path}: error: the document holds more than 2,000,000 values "
        "(split it into smaller workflows; see Limits in README.md)"
    )
    assert peak_mb < 200


def test_inputs_read_many_times_are_counted_without_filling_every_prompt(tmp_path):
    # 100 KB of input read 200 times by each of 10 tasks: 200 MB of prompts if filled.
    big = "x " * 50_000
    tasks = "".join(f"  t{i}:\n    prompt: '{'{{ inputs.big }}' * 200}'\n" for i in range(10))
    path = tmp_path / "amplified.yaml"
    path.write_text(
        f"version: 1\nname: amp\ndefaults: {{model: haiku}}\n"
        f"inputs:\n  big: {{default: '{big}'}}\ntasks:\n{tasks}"
    )
    code, out, err, peak_mb = run_child(["plan", "--json", str(path)], tmp_path, timeout=120)
    assert code == 0, err
    from agentflow.tokens import estimate_tokens

    # An over-count, never under: each reference counts the whole input.
    estimated = json.loads(out)["tasks"]["t0"]["est_input_tokens"]
    assert estimated >= 200 * estimate_tokens(big)
    assert peak_mb < 200


class CountingNames:
    """100,000 task ids that count how often they are gone through one by one."""

    def __init__(self, count: int) -> None:
        self.names = {f"task-{i}" for i in range(count)}
        self.walks = 0

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        self.walks += 1
        return iter(self.names)


def test_did_you_mean_over_many_names_looks_up_near_misses_without_a_walk():
    names = CountingNames(100_000)
    assert len(names) > EXHAUSTIVE_CHOICES
    hints = [did_you_mean(typo, names) for typo in ("tsak-123", "task-4567x", "tas-99")]
    assert hints == [
        "did you mean 'task-123'?",
        "did you mean 'task-4567'?",
        "did you mean 'task-99'?",
    ]
    assert did_you_mean("completely-else", names) is None
    assert names.walks == 0  # one walk of 100,000 ids per problem made validation quadratic


def _paths(graph: TaskGraph, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(s, t) for s, t in pairs if graph.has_path(s, t)}


@pytest.mark.parametrize("cyclic", [False, True])
def test_reachable_answers_as_a_walk_would(cyclic):
    import random

    rng = random.Random(7)
    nodes = [f"n{i}" for i in range(400)]
    edges = [(nodes[rng.randrange(i)], nodes[i]) for i in range(1, 400) for _ in range(2)]
    if cyclic:
        edges += [("n300", "n20"), ("n390", "n391")]
    graph = TaskGraph(nodes, edges)
    pairs = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(3000)]
    assert graph.reachable(pairs) == _paths(graph, pairs)


def test_a_large_workflow_still_gets_every_problem_with_its_place_and_hint(capsys, tmp_path):
    tasks = 3_000  # more than EXHAUSTIVE_CHOICES: near misses are looked up, not searched
    wrong = {
        1200: "read {{ tasks.t1991.output }}",  # downstream, not upstream
        2500: "read {{ tasks.t2049x.output }}",  # a typo
    }
    path = tmp_path / "big.yaml"
    path.write_text(chain(tasks, extra=wrong))
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines == [
        f"{path}:3606:19: error: {{{{ tasks.t1991.output }}}}: task 't1991' is not upstream "
        "of 't1200' (add 't1991' to needs of 't1200')",
        f"{path}:7506:19: error: {{{{ tasks.t2049x.output }}}}: unknown task 't2049x' "
        "(did you mean 't2049'?)",
    ]
    path.write_text(chain(tasks))
    assert (
        run_cli(capsys, "validate", str(path)).out.strip()
        == f"{path}: ok ({tasks} tasks, 0 agents)"
    )


def test_the_table_of_a_large_plan_has_a_row_for_every_task(capsys, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(chain(1_200))
    result = run_cli(capsys, "plan", str(path))
    assert result.code == 0, result.err
    rows = [line for line in result.out.splitlines() if re.match(r"^\s*\d+\s+t\d+\s", line)]
    assert [row.split()[:3] for row in rows[:2]] == [["0", "t0", "-"], ["1", "t1", "t0"]]
    assert len(rows) == 1_200
    assert rows[-1].split()[:3] == ["1199", "t1199", "t1198"]
    assert re.search(r"^\s+total\s+\$\S+\s+\$\S+$", result.out, re.MULTILINE)


@pytest.mark.slow  # seconds: 100,000 tasks to read
def test_a_workflow_of_100000_tasks_is_within_the_limits(capsys, tmp_path):
    path = tmp_path / "limit.yaml"
    body = "".join(f"  t{i}: {{needs: [t{i - 1}], prompt: x}}\n" for i in range(1, 100_000))
    path.write_text(
        f"version: 1\nname: limit\ndefaults: {{model: haiku}}\ntasks:\n  t0: {{prompt: x}}\n{body}"
    )
    result = run_cli(capsys, "validate", str(path))
    assert (result.code, result.err) == (0, "")
    assert result.out.strip() == f"{path}: ok (100000 tasks, 0 agents)"


@pytest.mark.slow
def test_validating_20000_tasks_with_far_references_and_typos_is_linear(tmp_path):
    """Each task reads t0 through the chain, and 200 read a misspelt task: every one was a
    walk of the whole graph or of every task id (minutes); now one pass (seconds)."""
    typos = {i: f"read {{{{ tasks.t{i - 1}x.output }}}}" for i in range(100, 20_000, 100)}
    path = tmp_path / "big.yaml"
    path.write_text(chain(20_000, extra=typos))
    code, _, err, _ = run_child(["validate", str(path)], tmp_path, timeout=90)
    assert code == 2
    problems = err.strip().splitlines()
    assert len(problems) == len(typos)
    assert all("did you mean 't" in p for p in problems)
