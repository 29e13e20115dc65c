"""The run history: migrations, recording, reloading, concurrent writers, and its commands."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from agentflow.engine.results import Attempt, PriorOutput, RunResult, TaskResult
from agentflow.engine.summary import run_summary
from agentflow.errors import AgentflowError
from agentflow.prices import Usage
from agentflow.store.db import connect, migrate
from agentflow.store.migrations import MIGRATIONS
from agentflow.store.paths import history_path
from agentflow.store.queries import (
    last_run_id,
    list_runs,
    load_run,
    report,
    resumable_outputs,
)
from agentflow.store.recorder import HistoryRecorder
from tests.cli_helpers import run_cli

DAY = 86_400.0
NOW = time.time()


def make_run(
    run_id: str = "20250101-120000-abc123",
    workflow: str = "notes",
    started_at: float = NOW - 60,
    tasks: int = 0,
) -> RunResult:
    """A run with one task of each interesting kind (plus `tasks` plain ones)."""
    t0 = started_at
    retried = TaskResult(
        "draft",
        "writer",
        "claude-sonnet-4-5",
        status="succeeded",
        attempts=[
            Attempt(
                1,
                "claude-sonnet-4-5",
                t0 + 0.1,
                t0 + 0.4,
                False,
                Usage(120, 0),
                0.00036,
                error="429 rate limited",
                error_kind="rate_limit",
                status_code=429,
            ),
            Attempt(
                2,
                "claude-sonnet-4-5",
                t0 + 1.1,
                t0 + 3.7,
                True,
                Usage(120, 340, 2048, 4096),
                0.01234567891,
                prompt_cache_saved_usd=0.0011,
            ),
        ],
        output="The draft, with ünïcode and 'quotes'.",
        started_at=t0 + 0.1,
        ended_at=t0 + 3.7,
        request_hash="sha256:draft",
        source="api",
    )
    structured = TaskResult(
        "review",
        "reviewer",
        "claude-opus-4-5",
        status="succeeded",
        attempts=[Attempt(1, "claude-opus-4-5", t0 + 4, t0 + 6, True, Usage(500, 20), 0.0095)],
        output='{"verdict": "approve"}',
        document={"verdict": "approve", "notes": [1, 2.5, None, True]},
        started_at=t0 + 4,
        ended_at=t0 + 6,
        request_hash="sha256:review",
        source="api",
    )
    cached = TaskResult(
        "facts",
        None,
        "claude-haiku-4-5",
        status="cached",
        output="Three facts.",
        started_at=t0 + 0.2,
        ended_at=t0 + 0.2,
        request_hash="sha256:facts",
        source="cache",
        saved_usage=Usage(80, 200),
        saved_usd=0.0042,
    )
    failed = TaskResult(
        "publish",
        "writer",
        "claude-haiku-4-5",
        status="failed",
        attempts=[
            Attempt(
                1,
                "claude-haiku-4-5",
                t0 + 7,
                t0 + 8,
                False,
                Usage(),
                0.0,
                error="401 invalid x-api-key",
                error_kind="auth",
                status_code=401,
            )
        ],
        error="401 invalid x-api-key",
        started_at=t0 + 7,
        ended_at=t0 + 8,
    )
    skipped = TaskResult(
        "announce", None, "claude-haiku-4-5", status="skipped", error="skipped: needs 'publish'"
    )
    extra = {
        f"t{i:03d}": TaskResult(
            f"t{i:03d}",
            "writer",
            "claude-haiku-4-5",
            status="succeeded",
            attempts=[Attempt(1, "claude-haiku-4-5", t0 + i, t0 + i + 1, True, Usage(10, 5), 1e-4)],
            output=f"out {i}",
            started_at=t0 + i,
            ended_at=t0 + i + 1,
        )
        for i in range(tasks)
    }
    all_tasks = [retried, structured, cached, failed, skipped]
    return RunResult(
        run_id=run_id,
        workflow=workflow,
        run_dir=Path("/state/runs") / run_id,
        tasks={t.id: t for t in all_tasks} | extra,
        started_at=t0,
        ended_at=t0 + 9.25,
        status="failed",
        peak_in_flight=3,
        throttle_events=1,
        workflow_file="workflows/notes.yaml",
        workflow_hash="sha256:abc",
        budget_usd=0.5,
        budget_tokens=None,
    )


def record(run: RunResult, path: Path | None = None) -> HistoryRecorder:
    """Feed a finished run to a recorder the way the engine does: start, tasks, end."""
    recorder = HistoryRecorder(path)
    recorder.run_started(run)
    for task in run.tasks.values():
        if task.status not in ("pending", "skipped"):  # skipped ones only arrive at the end
            recorder.task_finished(task)
    recorder.run_finished(run)
    assert recorder.errors == []
    return recorder


# --- migrations -----------------------------------------------------------------------------


def test_fresh_database_gets_every_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "h" / "history.db"
    db = connect(path)
    names = [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [fn.__name__ for fn in MIGRATIONS]
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "tasks", "attempts", "_migrations"} <= tables
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert migrate(db) == []  # idempotent on the same connection
    db.close()

    again = connect(path)  # and on re-opening
    assert again.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    again.close()


def test_an_older_database_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    MIGRATIONS[0](old)  # as if written by a version that knew only the first step
    old.execute("INSERT INTO _migrations VALUES (?, ?)", (MIGRATIONS[0].__name__, 0.0))
    old.close()
    db = sqlite3.connect(path, isolation_level=None)
    assert migrate(db) == [fn.__name__ for fn in MIGRATIONS[1:]]
    assert migrate(db) == []
    db.close()


# --- recording and reloading ----------------------------------------------------------------


def test_round_trip_rebuilds_the_run_exactly(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    run = make_run()
    record(run, path)
    loaded = load_run(run.run_id, path)
    assert loaded == run  # every field of the run, its tasks and their attempts
    assert list(loaded.tasks) == list(run.tasks)  # in the plan's order
    assert run_summary(loaded) == run_summary(run)
    assert loaded.usage == run.usage and loaded.cost_usd == run.cost_usd
    assert loaded.saved_usd == run.saved_usd


def test_a_unique_prefix_finds_the_run_and_an_ambiguous_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    record(make_run("20250101-120000-aaa111"), path)
    record(make_run("20250101-120000-aab222"), path)
    assert load_run("20250101-120000-aaa", path).run_id == "20250101-120000-aaa111"
    with pytest.raises(AgentflowError, match="matches several runs"):
        load_run("20250101-120000-aa", path)
    with pytest.raises(AgentflowError, match="agentflow runs list"):
        load_run("nope", path)
    with pytest.raises(AgentflowError, match="no run '2025_'"):
        load_run("2025_", path)  # `_` is not a LIKE wildcard here


def test_a_live_run_shows_every_task_and_current_totals(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    run = make_run()
    run.ended_at, run.status = 0.0, "succeeded"  # as the engine has it while running
    finished = run.tasks["draft"]
    for task in run.tasks.values():  # as at the start: nothing has happened yet
        if task is not finished:
            task.status, task.attempts = "pending", []
    recorder = HistoryRecorder(path)
    recorder.run_started(run)
    recorder.task_finished(finished)
    [row] = list_runs(path=path)
    assert row.status == "running" and row.tasks == 5 and row.requests == 2
    assert row.cost_usd == finished.cost_usd and row.ended_at is None
    loaded = load_run(run.run_id, path)
    assert [t.status for t in loaded.tasks.values()][:2] == ["succeeded", "pending"]
    recorder.close()


def test_tasks_recorded_before_run_started_or_only_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    run = make_run()
    early = HistoryRecorder(path, run_id=run.run_id)  # the engine may not call run_started
    early.task_finished(run.tasks["draft"])
    early.run_finished(run)
    assert early.errors == [] and load_run(run.run_id, path) == run

    other = make_run("20250102-000000-fff000")
    late = HistoryRecorder(path)  # no run id at all: everything arrives with run_finished
    late.task_finished(other.tasks["draft"])
    late.run_finished(other)
    assert late.errors == [] and load_run(other.run_id, path) == other


def test_a_database_error_is_kept_not_raised(tmp_path: Path) -> None:
    (tmp_path / "history.db").mkdir()  # a folder where the file should be
    recorder = HistoryRecorder(tmp_path / "history.db")
    run = make_run()
    recorder.run_started(run)
    recorder.run_finished(run)
    assert recorder.errors and "history not recorded" in recorder.errors[0]


def test_queries_on_a_missing_database_do_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "none" / "history.db"
    assert list_runs(path=path) == [] and last_run_id("notes", path) is None
    assert report(path=path).total.requests == 0
    with pytest.raises(AgentflowError, match="no run"):
        load_run("x", path)
    assert not path.parent.exists()


def test_list_runs_last_run_id_and_resumable_outputs(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    record(make_run("20250101-000000-old000", started_at=NOW - 3 * DAY), path)
    record(make_run("20250103-000000-new000", started_at=NOW - DAY), path)
    record(make_run("20250102-000000-oth000", workflow="other", started_at=NOW - 2 * DAY), path)
    assert [r.run_id for r in list_runs(path=path)] == [
        "20250103-000000-new000",
        "20250102-000000-oth000",
        "20250101-000000-old000",
    ]
    assert [r.run_id for r in list_runs(1, "notes", path)] == ["20250103-000000-new000"]
    newest = list_runs(1, path=path)[0]
    assert (newest.tasks, newest.succeeded, newest.failed, newest.requests) == (5, 3, 1, 4)
    assert last_run_id("notes", path) == "20250103-000000-new000"
    assert last_run_id("missing", path) is None

    outputs = resumable_outputs("20250103", path)
    assert set(outputs) == {"draft", "review", "facts"}  # not the failed or skipped ones
    assert outputs["review"] == PriorOutput(
        run_id="20250103-000000-new000",
        request_hash="sha256:review",
        output='{"verdict": "approve"}',
        document={"verdict": "approve", "notes": [1, 2.5, None, True]},
        model="claude-opus-4-5",
        usage=Usage(input_tokens=500, output_tokens=20),  # what reusing it saves
        cost_usd=0.0095,
    )


def test_report_groups_by_day_model_agent_and_workflow(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    recent, other = make_run("r1", started_at=NOW - DAY), make_run("r2", "other", NOW - 2 * DAY)
    old = make_run("r0", started_at=NOW - 30 * DAY)
    for run in (recent, other, old):
        record(run, path)

    everything = report(path=path)
    assert everything.total.requests == 12 and everything.total.runs == 3
    assert everything.total.cost_usd == pytest.approx(3 * recent.cost_usd)
    assert everything.total.saved_usd == pytest.approx(3 * recent.saved_usd)
    assert everything.total.usage == Usage(740, 360, 2048, 4096) + Usage(1480, 720, 4096, 8192)

    week = report(NOW - 7 * DAY, path=path)
    assert week.total.runs == 2 and week.total.requests == 8
    assert [s.key for s in week.by_workflow] == ["notes", "other"] or [
        s.key for s in week.by_workflow
    ] == ["other", "notes"]
    days = [s.key for s in week.by_day]
    assert days == sorted(days) and len(days) == 2
    assert days[-1] == time.strftime("%Y-%m-%d", time.gmtime(recent.started_at + 1))
    models = {s.key: s for s in week.by_model}
    assert models["claude-sonnet-4-5"].requests == 4
    assert models["claude-sonnet-4-5"].cost_usd == pytest.approx(2 * (0.00036 + 0.01234567891))
    assert models["claude-haiku-4-5"].saved_usd == pytest.approx(2 * 0.0042)  # the cache hit
    agents = {s.key for s in week.by_agent}
    assert agents == {"writer", "reviewer", "(no agent)"}

    one = report(NOW - 7 * DAY, "other", path)
    assert one.total.runs == 1 and [s.key for s in one.by_workflow] == ["other"]
    assert one.total.cost_usd == pytest.approx(other.cost_usd)


# --- concurrent writers ---------------------------------------------------------------------


def _record_in_process(path: str, run_id: str, started_at: float) -> None:
    record(make_run(run_id, started_at=started_at, tasks=60), Path(path))


def test_concurrent_threads_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    runs = [make_run(f"thread-{i}", tasks=40) for i in range(4)]
    barrier = threading.Barrier(len(runs))
    failures: list[BaseException] = []

    def work(run: RunResult) -> None:
        try:
            barrier.wait()
            record(run, path)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert {r.run_id for r in list_runs(path=path)} == {run.run_id for run in runs}
    for run in runs:
        assert load_run(run.run_id, path) == run


def test_concurrent_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    context = multiprocessing.get_context("spawn")  # fresh interpreters, like two terminals
    procs = [
        context.Process(target=_record_in_process, args=(str(path), f"proc-{i}", NOW))
        for i in range(3)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    for i in range(3):
        loaded = load_run(f"proc-{i}", path)
        assert loaded == make_run(f"proc-{i}", started_at=NOW, tasks=60)


# --- commands -------------------------------------------------------------------------------


@pytest.fixture
def populated(home: Path) -> list[RunResult]:
    runs = [
        make_run("20250101-000000-old000", started_at=NOW - 30 * DAY),
        make_run("20250102-000000-oth000", workflow="other", started_at=NOW - 2 * DAY),
        make_run("20250103-000000-new000", started_at=NOW - DAY),
    ]
    for run in runs:
        record(run)
    assert history_path() == home / "history.db"
    return runs


def test_runs_list_table_and_json(populated: list[RunResult], capsys) -> None:
    result = run_cli(capsys, "runs", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    order = [next(i for i, line in enumerate(lines) if r.run_id in line) for r in populated]
    assert order[2] < order[1] < order[0]  # newest first
    assert "\x1b[" not in result.out and "|" in result.out  # plain ASCII when piped

    listed = run_cli(capsys, "runs", "list", "--json", "--workflow", "notes", "--limit", "5")
    assert listed.code == 0
    rows = listed.json()
    assert [r["run_id"] for r in rows] == ["20250103-000000-new000", "20250101-000000-old000"]
    assert rows[0]["status"] == "failed" and rows[0]["requests"] == 4
    assert rows[0]["usage"]["cache_read_input_tokens"] == 4096


def test_runs_list_with_no_history(home: Path, capsys) -> None:
    result = run_cli(capsys, "runs", "list")
    assert result.code == 0 and "no runs recorded" in result.out
    assert run_cli(capsys, "runs", "list", "--json").json() == []


def test_runs_show_table_and_json(populated: list[RunResult], capsys) -> None:
    run = populated[2]
    shown = run_cli(capsys, "runs", "show", run.run_id[:-2])  # a prefix is enough
    assert shown.code == 0, shown.err
    assert f"run {run.run_id}" in shown.out and "cost by model" in shown.out
    assert "429 rate limited" not in shown.out  # attempts' errors are not the task's note
    assert "401 invalid x-api-key" in shown.out

    as_json = run_cli(capsys, "runs", "show", run.run_id, "--json")
    assert as_json.code == 0 and len(as_json.out.strip().splitlines()) == 1
    assert as_json.json() == run_summary(run)


def test_runs_show_unknown_id_is_exit_2(populated: list[RunResult], capsys) -> None:
    result = run_cli(capsys, "runs", "show", "no-such-run")
    assert result.code == 2 and result.out == ""
    assert "no run 'no-such-run'" in result.err and "agentflow runs list" in result.err


def test_report_since_and_workflow(populated: list[RunResult], capsys) -> None:
    table = run_cli(capsys, "report", "--since", "7d")
    assert table.code == 0, table.err
    assert "spend by day" in table.out and "spend by model" in table.out
    assert "over 8 requests in 2 runs" in table.out

    week = run_cli(capsys, "report", "--since", "7d", "--json").json()
    assert week["totals"]["requests"] == 8 and week["totals"]["runs"] == 2
    assert {row["workflow"] for row in week["by_workflow"]} == {"notes", "other"}
    assert week["since"] == pytest.approx(time.time() - 7 * DAY, abs=60)

    notes = run_cli(capsys, "report", "--since", "2w", "--workflow", "notes", "--json").json()
    assert notes["totals"]["runs"] == 1 and [r["workflow"] for r in notes["by_workflow"]] == [
        "notes"
    ]
    assert run_cli(capsys, "report", "--json").json()["totals"]["runs"] == 3  # all time


@pytest.mark.parametrize("since", ["7", "7 days", "-1d", "d", "1y"])
def test_report_bad_since_is_exit_2(home: Path, capsys, since: str) -> None:
    result = run_cli(capsys, "report", "--since", since)
    assert result.code == 2 and result.out == ""
    assert "--since" in result.err and "30m, 12h, 7d or 2w" in result.err


# --- end to end -----------------------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workflows"


def test_agentflow_run_is_recorded(home: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTFLOW_SIMULATE_LATENCY", "0")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-stored-0123456789")
    done = run_cli(
        capsys,
        "run",
        str(FIXTURES / "good.yaml"),
        "--provider",
        "simulate",
        "--set",
        "topic=x",
        "--json",
    )
    assert done.code == 0, done.err
    summary = done.json()
    listed = run_cli(capsys, "runs", "list", "--json").json()
    assert [r["run_id"] for r in listed] == [summary["run_id"]]
    assert listed[0]["status"] == "succeeded" and listed[0]["tasks"] == len(summary["tasks"])
    shown = run_cli(capsys, "runs", "show", summary["run_id"], "--json").json()
    assert shown == summary
    spent = run_cli(capsys, "report", "--json").json()["totals"]  # simulated: not spend
    assert (spent["runs"], spent["requests"], spent["cost_usd"]) == (0, 0, 0)
    for file in home.glob("history.db*"):
        assert b"sk-ant-never-stored" not in file.read_bytes()


def test_simulated_runs_are_recorded_but_never_spend_nor_teach(tmp_path: Path) -> None:
    """Issue 11, item 17: a simulate run's $ counted as spend and taught adaptive routing."""
    from dataclasses import replace

    from agentflow.store.routing import model_records

    path = tmp_path / "history.db"
    real = make_run("20250105-000000-real00", started_at=NOW - 300)
    record(real, path)
    for i in range(3):
        record(replace(make_run(f"20250106-00000{i}-sim000"), provider="simulate"), path)
    assert len(list_runs(path=path)) == 4  # recorded, and listed
    assert load_run("20250106-000000-sim000", path).provider == "simulate"
    total = report(path=path).total
    assert total.runs == 1 and total.cost_usd == pytest.approx(real.cost_usd)
    assert {r.run_id for r in model_records("notes", path=path)} == {real.run_id}


def test_huge_numbers_on_the_command_line_are_answered(home: Path, capsys) -> None:
    """Issue 11, item 10: these ended in internal errors (SQLite and time_t overflows)."""
    record(make_run())
    listed = run_cli(capsys, "runs", "list", "--limit", "99999999999999999999", "--json")
    assert listed.code == 0 and len(listed.json()) == 1
    since = run_cli(capsys, "report", "--since", "99999999999999999999d")
    assert since.code == 2 and "longer than 100 years" in since.err
