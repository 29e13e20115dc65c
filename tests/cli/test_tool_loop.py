"""The tool-use loop against the loopback Messages API: ask_agent, shared state,
notifications, file tools, max_turns and the budget, seen from the server and the CLI."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from agentflow.prices import Usage, load_prices
from tests.cli_helpers import run_cli, run_json, write_workflow
from tests.support.messages_server import MessagesServer, RecordedRequest, Reply

PRICES = load_prices()


def agent(folder: Path, name: str, body: str, tools: str | None = None, extra: str = "") -> None:
    folder.mkdir(exist_ok=True)
    tools_line = f"tools: {tools}\n" if tools is not None else ""
    (folder / f"{name}.md").write_text(
        f"---\nname: {name}\ndescription: The {name} agent.\n{tools_line}{extra}---\n{body}\n"
    )


def messages_of(request: RecordedRequest) -> list[dict[str, Any]]:
    return request.body.get("messages") or []


def first_text(request: RecordedRequest) -> str:
    """The prompt: the first user message's text (blocks once it carries a breakpoint)."""
    content = messages_of(request)[0]["content"]
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content)


def tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
    """The tool_result blocks of the request's last user message."""
    last = messages_of(request)[-1]
    content = last.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if b.get("type") == "tool_result"]


def use(id: str, name: str, **input: Any) -> dict[str, Any]:
    """A tool_use block, as the model sends it."""
    return {"type": "tool_use", "id": id, "name": name, "input": input}


def turn(request: RecordedRequest) -> int:
    return (len(messages_of(request)) + 1) // 2


def bill(server: MessagesServer) -> float:
    """What the server's usage figures cost, request by request, at each request's model."""
    answered = [r for r in server.requests if r.path == "/v1/messages" and r.status == 200]
    assert len(answered) == len(server.usage_log)
    return sum(
        PRICES.cost(r.model or "", Usage(**u))
        for r, u in zip(answered, server.usage_log, strict=True)
    )


def calls(server: MessagesServer) -> list[RecordedRequest]:
    return [r for r in server.requests if r.path == "/v1/messages"]


# ask_agent ---------------------------------------------------------------------------------


def ask_workflow(tmp_path: Path) -> Path:
    agents = tmp_path / "agents"
    agent(agents, "lead", "You are the LEAD engineer.", tools="Read, Task, Bash")
    agent(agents, "expert", "You are the EXPERT on arithmetic.")
    return write_workflow(
        tmp_path,
        "tasks:\n  decide:\n    agent: lead\n    model: haiku\n    prompt: Decide the number.\n",
    )


def ask_responder(request: RecordedRequest) -> Reply:
    if "EXPERT" in request.system_text:
        return Reply(text="The answer is 42.")
    if turn(request) == 1:
        return Reply.tool_use("ask_agent", {"agent": "expert", "question": "What is 6 * 7?"})
    answer = tool_results(request)[0]["content"]
    return Reply(text=f"Decided: {answer}")


def test_a_task_asks_another_agent_and_finishes_with_its_answer(api, capsys, tmp_path):
    api.responder = ask_responder
    code, summary = run_json(capsys, ask_workflow(tmp_path))
    assert code == 0, summary
    task = summary["tasks"]["decide"]
    assert task["status"] == "succeeded"
    assert task["output"] == "Decided: The answer is 42."
    assert (task["turns"], task["tool_calls"]) == (2, 1)
    requests = calls(api)
    assert len(requests) == 3
    # The lead's first turn offers the tools it named (Task → ask_agent; Bash ignored).
    offered = [t["name"] for t in requests[0].body["tools"]]
    assert offered == ["Read", "ask_agent"]
    # The sub-call speaks as the expert, with only the question.
    assert "EXPERT" in requests[1].system_text
    assert requests[1].last_user_text == "What is 6 * 7?"
    assert "tools" not in requests[1].body
    # The answer goes back as the tool result of the lead's call.
    assert tool_results(requests[2])[0]["content"] == "The answer is 42."
    # The sub-call is charged to the asking task: all three requests, at their prices.
    assert task["attempts"] == 3
    assert abs(task["cost_usd"] - bill(api)) < 1e-9
    assert abs(summary["totals"]["cost_usd"] - bill(api)) < 1e-9


def test_a_rerun_replays_the_tools_from_the_cache_without_a_request(api, capsys, tmp_path):
    api.responder = ask_responder
    path = ask_workflow(tmp_path)
    run_json(capsys, path)
    first = len(calls(api))
    code, summary = run_json(capsys, path)
    assert code == 0
    assert len(calls(api)) == first  # every turn, the sub-call's too, came from the cache
    task = summary["tasks"]["decide"]
    assert task["status"] == "cached" and task["output"] == "Decided: The answer is 42."
    assert task["cost_usd"] == 0 and task["saved_usd"] > 0
    assert task["turns"] == 2


def test_an_ask_loop_hits_the_depth_limit_and_the_task_still_ends(api, capsys, tmp_path):
    agents = tmp_path / "agents"
    agent(agents, "ping", "You are PING.", tools="Task")
    agent(agents, "pong", "You are PONG.", tools="ask_agent")

    def responder(request: RecordedRequest) -> Reply:
        me, other = ("ping", "pong") if "PING" in request.system_text else ("pong", "ping")
        if turn(request) == 1:
            return Reply.tool_use("ask_agent", {"agent": other, "question": f"{me} asks {other}"})
        result = tool_results(request)[0]
        return Reply(text=f"{me} heard: {result['content'][:60]}")

    api.responder = responder
    path = write_workflow(
        tmp_path, "tasks:\n  loop:\n    agent: ping\n    model: haiku\n    prompt: Start.\n"
    )
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    assert summary["tasks"]["loop"]["status"] == "succeeded"
    requests = calls(api)
    # task t1 → pong (depth 1) t1 → ping (depth 2) t1, whose ask is refused → ping t2 →
    # pong t2 → task t2: six requests, no more.
    assert len(requests) == 6
    refused = [r for req in requests for r in tool_results(req) if r.get("is_error")]
    assert len(refused) == 1
    assert "depth limit (2)" in refused[0]["content"]
    assert summary["tasks"]["loop"]["output"].startswith("ping heard: pong heard: ping heard:")


def test_asking_an_unknown_agent_is_a_tool_error_not_a_crash(api, capsys, tmp_path):
    agents = tmp_path / "agents"
    agent(agents, "lead", "You are the LEAD.", tools="ask_agent")
    agent(agents, "expert", "You are the EXPERT.")

    def responder(request: RecordedRequest) -> Reply:
        if turn(request) == 1:
            return Reply.tool_use("ask_agent", {"agent": "exprt", "question": "Hi?"})
        return Reply(text="done: " + tool_results(request)[0]["content"])

    api.responder = responder
    path = write_workflow(
        tmp_path, "tasks:\n  t:\n    agent: lead\n    model: haiku\n    prompt: Go.\n"
    )
    code, summary = run_json(capsys, path)
    assert code == 0
    result = tool_results(calls(api)[1])[0]
    assert result["is_error"] is True
    assert "no agent named 'exprt'; did you mean 'expert'?" in result["content"]


# shared state and notifications ------------------------------------------------------------


def test_state_reaches_a_waiting_task_and_a_subscriber(api, capsys, tmp_path):
    state_set = threading.Event()

    def responder(request: RecordedRequest) -> Reply:
        text = first_text(request)
        if "WRITE" in text:
            if turn(request) == 1:
                return Reply.tool_use("set_state", {"key": "verdict", "value": {"ship": True}})
            state_set.set()  # the writer's second turn: the value is set by now
            return Reply(text="written")
        if "WATCH" in text:
            if turn(request) == 1:
                state_set.wait(10)  # hold the watcher's first turn until the write
                return Reply.tool_use("get_state", {"key": "other"})
            return Reply(text="watched")
        return Reply(text="waited")

    api.responder = responder
    path = write_workflow(
        tmp_path,
        """tasks:
  writer:
    model: haiku
    tools: [set_state]
    sets: [verdict]
    prompt: WRITE the verdict.
  waiter:
    model: haiku
    waits_for: [state.verdict]
    prompt: "The verdict is {{ state.verdict }}."
  watcher:
    model: haiku
    tools: [get_state]
    subscribe: [verdict]
    prompt: WATCH the verdict.
""",
    )
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    by_first_text = {first_text(r): r for r in calls(api) if turn(r) == 1}
    # The waiting task started only once the key was set, and read it in its prompt.
    waited = [t for t in by_first_text if t.startswith("The verdict is ")]
    assert [json.loads(t.removeprefix("The verdict is ").rstrip(".")) for t in waited] == [
        {"ship": True}
    ]
    # The subscriber got the new value as a note before its next turn.
    watcher_second = next(r for r in calls(api) if "WATCH" in first_text(r) and turn(r) == 2)
    notes = [
        b["text"] for b in messages_of(watcher_second)[-1]["content"] if b.get("type") == "text"
    ]
    assert notes and 'state "verdict" is now {"ship": true}' in notes[0]
    assert 'set by task "writer"' in notes[0]
    assert summary["tasks"]["waiter"]["status"] == "succeeded"


def test_a_waiting_task_whose_key_is_never_set_fails_instead_of_hanging(api, capsys, tmp_path):
    api.responder = lambda request: Reply(text="I did not set anything.")
    path = write_workflow(
        tmp_path,
        """tasks:
  writer:
    model: haiku
    tools: [set_state]
    sets: [verdict]
    prompt: WRITE.
  waiter:
    model: haiku
    waits_for: [state.verdict]
    prompt: "{{ state.verdict }}"
  after:
    model: haiku
    needs: waiter
    prompt: later
""",
    )
    code, summary = run_json(capsys, path)
    assert code == 1
    assert summary["tasks"]["waiter"]["status"] == "failed"
    error = summary["tasks"]["waiter"]["error"]
    assert "waits_for state.verdict, which no task set" in error
    assert "writer succeeded without calling set_state for 'verdict'" in error
    assert summary["tasks"]["after"]["status"] == "skipped"
    assert len(calls(api)) == 1


def test_a_notification_reaches_later_tasks_and_subscribers(api, capsys, tmp_path):
    sent = threading.Event()

    def responder(request: RecordedRequest) -> Reply:
        text = first_text(request)
        if "ANNOUNCE" in text:
            if turn(request) == 1:
                return Reply.tool_use("notify", {"topic": "release", "message": "v2 is out"})
            sent.set()
            return Reply(text="announced")
        if "LISTEN" in text and turn(request) == 1:
            sent.wait(10)
            return Reply.tool_use("get_state", {"key": "nothing"})
        return Reply(text="ok")

    api.responder = responder
    path = write_workflow(
        tmp_path,
        """tasks:
  announce:
    model: haiku
    tools: [notify]
    prompt: ANNOUNCE it.
  listener:
    model: haiku
    tools: [get_state]
    subscribe: [messages.release]
    prompt: LISTEN.
  reader:
    model: haiku
    needs: announce
    prompt: "News: {{ messages.release }}"
""",
    )
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    firsts = [first_text(r) for r in calls(api) if turn(r) == 1]
    assert "News: [announce] v2 is out" in firsts
    listener_second = next(r for r in calls(api) if "LISTEN" in first_text(r) and turn(r) == 2)
    texts = [b.get("text", "") for b in messages_of(listener_second)[-1]["content"]]
    assert any('message on "release" from task "announce": v2 is out' in t for t in texts)


# file tools --------------------------------------------------------------------------------


def test_file_tools_read_the_workspace_and_refuse_escapes(api, capsys, tmp_path):
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "notes.md").write_text("release on friday\n")
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    (project / "link.txt").symlink_to(tmp_path / "secret.txt")

    def responder(request: RecordedRequest) -> Reply:
        if turn(request) == 1:
            return Reply(
                content_blocks=[
                    use("a", "Read", file_path="docs/notes.md"),
                    use("b", "Read", file_path="../secret.txt"),
                    use("c", "Read", file_path=str(tmp_path / "secret.txt")),
                    use("d", "Read", file_path="link.txt"),
                    use("e", "Bash", command="cat /etc/passwd"),
                ],
                stop_reason="tool_use",
            )
        return Reply(text="read")

    api.responder = responder
    path = write_workflow(
        project,
        "workspace: .\ntasks:\n  t:\n    model: haiku\n    tools: [Read, Glob, Grep]\n"
        "    prompt: Read the notes.\n",
    )
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    results = {r["tool_use_id"]: r for r in tool_results(calls(api)[1])}
    assert "release on friday" in results["a"]["content"] and not results["a"].get("is_error")
    for escape in ("b", "c", "d"):
        assert results[escape]["is_error"] is True
        assert "escapes the workspace" in results[escape]["content"]
    assert results["e"]["is_error"] is True and "no tool named 'Bash'" in results["e"]["content"]
    assert all("TOP SECRET" not in json.dumps(r.body) for r in calls(api))
    assert summary["tasks"]["t"]["tool_calls"] == 5


# limits ------------------------------------------------------------------------------------


def test_max_turns_ends_a_model_that_never_stops_calling_tools(api, capsys, tmp_path):
    api.responder = lambda request: Reply.tool_use(
        "get_state", {"key": "x"}, id=f"t{turn(request)}"
    )
    path = write_workflow(
        tmp_path,
        "tasks:\n  busy:\n    model: haiku\n    tools: [get_state]\n    max_turns: 3\n"
        "    prompt: Keep going.\n  next:\n    model: haiku\n    needs: busy\n    prompt: x\n",
    )
    code, summary = run_json(capsys, path)
    assert code == 1
    task = summary["tasks"]["busy"]
    assert task["status"] == "failed"
    assert "max_turns: stopped after 3 turns" in task["error"]
    assert len(calls(api)) == 3 and task["turns"] == 3
    assert abs(task["cost_usd"] - bill(api)) < 1e-9  # every turn was paid and is counted
    assert summary["tasks"]["next"]["status"] == "skipped"


def test_every_turn_is_priced_and_the_loop_stops_inside_the_budget(api, capsys, tmp_path):
    big = "word " * 1500
    api.responder = lambda request: Reply.tool_use(
        "get_state", {"key": big[: 40 * turn(request)]}, id=f"t{turn(request)}"
    )
    path = write_workflow(
        tmp_path,
        "tasks:\n  spender:\n    model: haiku\n    tools: [get_state]\n    max_turns: 50\n"
        f'    max_tokens: 200\n    prompt: "{big}"\n',
    )
    code, summary = run_json(capsys, path, "--budget", "0.1")
    assert code == 3, summary
    task = summary["tasks"]["spender"]
    assert task["status"] == "budget"
    assert "budget: turn" in task["error"]
    assert 2 <= task["turns"] < 50
    billed = bill(api)
    assert billed <= 0.1
    assert abs(summary["totals"]["cost_usd"] - billed) < 1e-9


def test_later_turns_read_the_conversation_from_the_prompt_cache(api, capsys, tmp_path):
    long_prompt = "context " * 3000
    api.responder = lambda request: (
        Reply.tool_use("get_state", {"key": "k"}, id=f"t{turn(request)}")
        if turn(request) < 3
        else Reply(text="done")
    )
    path = write_workflow(
        tmp_path,
        f'tasks:\n  t:\n    model: haiku\n    tools: [get_state]\n    prompt: "{long_prompt}"\n',
    )
    code, summary = run_json(capsys, path)
    assert code == 0
    requests = calls(api)
    assert len(requests) == 3
    last_block = messages_of(requests[1])[-1]["content"][-1]
    assert last_block["cache_control"] == {"type": "ephemeral"}
    usage = api.usage_log
    assert usage[1]["cache_creation_input_tokens"] > 0
    assert usage[2]["cache_read_input_tokens"] >= usage[1]["cache_creation_input_tokens"]
    assert summary["totals"]["prompt_cache_saved_usd"] > 0


# timeouts, the record, the example -----------------------------------------------------------


def test_an_ask_that_hangs_is_cut_by_the_ask_timeout(api, capsys, tmp_path):
    agents = tmp_path / "agents"
    agent(agents, "lead", "You are the LEAD.", tools="ask_agent")
    agent(agents, "slow", "You are SLOW.")

    def responder(request: RecordedRequest) -> Reply:
        if "SLOW" in request.system_text:
            return Reply(text="too late", delay=3.0)
        if turn(request) == 1:
            return Reply.tool_use("ask_agent", {"agent": "slow", "question": "Well?"})
        return Reply(text="gave up: " + tool_results(request)[0]["content"])

    api.responder = responder
    path = write_workflow(
        tmp_path,
        "ask: {timeout: 0.5}\ntasks:\n  t:\n    agent: lead\n    model: haiku\n    prompt: Go.\n",
    )
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    assert summary["tasks"]["t"]["output"] == "gave up: agent 'slow' did not answer within 0.5s"


def test_the_messages_of_a_run_are_recorded_and_shown(api, capsys, tmp_path):
    api.responder = ask_responder
    code, summary = run_json(capsys, ask_workflow(tmp_path))
    assert code == 0
    shown = run_cli(capsys, "runs", "show", summary["run_id"], "--messages", "--json").json()
    traffic = [(m["type"], m["from"], m["to"]) for m in shown["messages"]]
    assert ("tool_call", "decide", "ask_agent") in traffic
    assert ("request", "decide", "agent:expert") in traffic
    assert ("response", "agent:expert", "decide") in traffic
    assert ("tool_result", "ask_agent", "decide") in traffic
    response = next(m for m in shown["messages"] if m["type"] == "response")
    assert response["payload"]["answer"] == "The answer is 42."
    assert [m["seq"] for m in shown["messages"]] == sorted(m["seq"] for m in shown["messages"])
    # The same messages are in the run folder, one JSON line each.
    lines = (Path(summary["run_dir"]) / "messages.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [m["seq"] for m in shown["messages"]]
    human = run_cli(capsys, "runs", "show", summary["run_id"], "--messages")
    assert "Conversation of decide" in human.out and "agent:expert" in human.out


EXAMPLE = Path(__file__).resolve().parents[2] / "workflows" / "release-check.yaml"


def test_the_example_workflow_cooperates_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTFLOW_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("AGENTFLOW_SIMULATE_LATENCY", "0")
    code, summary = run_json(capsys, EXAMPLE, "--provider", "simulate")
    assert code == 0, summary
    tasks = summary["tasks"]
    assert tasks["audit"]["turns"] == 2 and tasks["audit"]["tool_calls"] == 6
    shown = run_cli(capsys, "runs", "show", summary["run_id"], "--messages", "--json").json()
    kinds = {(m["type"], m["from"], m["to"]) for m in shown["messages"]}
    assert ("request", "audit", "agent:architect") in kinds
    assert ("state", "audit", "state") in kinds
    assert ("notification", "changelog", "release") in kinds
    # Both announced on the topic the release manager reads; it started after the verdict.
    announcers = {m["from"] for m in shown["messages"] if m["type"] == "notification"}
    assert announcers == {"audit", "changelog"}
    verdict_at = max(m["at"] for m in shown["messages"] if m["type"] == "state")
    assert tasks["decide"]["started_at"] >= verdict_at


def test_plan_shows_loops_their_turns_and_waits(capsys):
    shown = run_cli(capsys, "plan", str(EXAMPLE))
    assert shown.code == 0
    assert "Tool loop: audit with Glob, Grep, Read, ask_agent, set_state, notify" in shown.out
    assert "Waits: decide starts once state.security_verdict is set (by audit)" in shown.out
    planned = run_cli(capsys, "plan", str(EXAMPLE), "--json").json()["tasks"]
    assert (planned["changelog"]["tools"], planned["changelog"]["max_turns"]) == (
        ["Read", "Glob", "notify"],
        6,
    )
    assert (planned["decide"]["tools"], planned["decide"]["max_turns"]) == ([], 1)


def test_a_loops_worst_case_counts_every_turn(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        "tasks:\n"
        "  loop:\n    model: haiku\n    tools: [get_state]\n    max_turns: 6\n    prompt: Go.\n"
        "  once:\n    model: haiku\n    prompt: Go.\n",
    )
    planned = run_cli(capsys, "plan", str(path), "--json").json()["tasks"]
    ratio = planned["loop"]["max_cost_usd"] / planned["once"]["max_cost_usd"]
    assert abs(ratio - 6) < 1e-3


def test_a_waiting_task_is_planned_after_its_setter_in_both_schedules(
    capsys, tmp_path, home, monkeypatch
):
    monkeypatch.setenv("AGENTFLOW_SIMULATE_LATENCY", "0")
    path = write_workflow(
        tmp_path,
        """tasks:
  first: {model: haiku, prompt: start}
  setter: {model: haiku, needs: [first], tools: [set_state], sets: [verdict], prompt: set}
  waiter: {model: haiku, waits_for: [state.verdict], prompt: "{{ state.verdict }}"}
""",
    )
    planned = run_cli(capsys, "plan", str(path), "--json").json()
    assert planned["waves"] == [["first"], ["setter"], ["waiter"]]
    assert planned["critical_path"] == ["first", "setter", "waiter"]
    for schedule in ("dynamic", "waves"):
        code, summary = run_json(
            capsys, path, "--provider", "simulate", "--schedule", schedule, "--no-cache"
        )
        assert code == 0, (schedule, summary)
        assert summary["tasks"]["waiter"]["status"] == "succeeded"
