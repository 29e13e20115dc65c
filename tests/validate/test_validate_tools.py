"""Tools, shared state and the workspace: what `validate` says, and how a task's tools,
turns and subscriptions are chosen (issue 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentflow.prices import load_prices
from agentflow.routing.tools import (
    DEFAULT_MAX_TURNS,
    KNOWN_TOOLS,
    ToolSelection,
    max_turns,
    select_tools,
    subscriptions,
)
from agentflow.spec.templates import RenderContext, parse_template, render_template
from agentflow.spec.workflow import Workflow
from agentflow.validate.workflow import validate_workflow
from tests.cli_helpers import run_cli, write_workflow

PRICES = load_prices()


def agent_file(folder: Path, name: str, extra: str = "") -> Path:
    """An agent file in folder/agents; `extra` is more frontmatter (tools on line 4)."""
    (folder / "agents").mkdir(exist_ok=True)
    path = folder / "agents" / f"{name}.md"
    path.write_text(f"---\nname: {name}\ndescription: does {name} work\n{extra}---\nYou work.\n")
    return path


def validate(capsys, path: Path):
    return run_cli(capsys, "validate", str(path))


def problem_lines(err: str, severity: str) -> list[str]:
    return [line for line in err.splitlines() if f": {severity}: " in line]


def loaded(path: Path) -> tuple[Workflow, dict]:
    """The workflow and each task's agent, as validation sees them."""
    result = validate_workflow(path, PRICES)
    assert result.workflow is not None and result.agents is not None, result.problems
    return result.workflow, {tid: pick.agent for tid, pick in result.picks.items()}


# --- ignored tool names ---------------------------------------------------------------


def test_ignored_tool_names_are_warnings_one_per_place(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        """\
defaults:
  tools: [Grep, WebFetch]
tasks:
  a:
    tools: [Read, Bash, Write, Bash]
    prompt: x
  b:
    tools: [Glob, mcp__github__search]
    prompt: x
  c:
    prompt: x
""",
    )
    result = validate(capsys, path)
    assert result.code == 0, result.err
    assert "wf.yaml: ok (3 tasks" in result.out
    warnings = problem_lines(result.err, "warning")
    assert len(warnings) == 3, result.err
    assert warnings[0].startswith(f"{path}:4:")
    assert "tool WebFetch is not offered by agentflow and is ignored" in warnings[0]
    assert warnings[1].startswith(f"{path}:7:")
    assert "tools Bash, Write are not offered by agentflow and are ignored" in warnings[1]
    assert (
        "agentflow offers ask_agent, set_state, get_state, notify, Read, Glob, Grep"
        in (warnings[1])
    )
    assert warnings[2].startswith(f"{path}:10:")
    assert "tool mcp__github__search is not offered" in warnings[2]
    assert not problem_lines(result.err, "error")


def test_ignored_tool_close_to_a_known_one_gets_a_did_you_mean(capsys, tmp_path):
    path = write_workflow(tmp_path, "tasks:\n  a: {prompt: x, tools: [read, Greps]}\n")
    result = validate(capsys, path)
    assert result.code == 0
    assert "did you mean 'Read' for 'read', 'Grep' for 'Greps'?" in result.err


def test_agent_tools_ignored_are_reported_on_the_agent_file(capsys, tmp_path):
    bash = agent_file(tmp_path, "builder", "tools: Read, Bash, Edit\n")
    agent_file(tmp_path, "unused", "tools: Bash\n")
    overridden = agent_file(tmp_path, "quiet", "tools: WebSearch\n")
    path = write_workflow(
        tmp_path,
        """\
tasks:
  a: {prompt: x, agent: builder}
  b: {prompt: x, agent: builder}
  c: {prompt: x, agent: quiet, tools: []}
""",
    )
    result = validate(capsys, path)
    assert result.code == 0, result.err
    warnings = problem_lines(result.err, "warning")
    assert warnings == [
        f"{bash}:4: warning: agent 'builder' (used by tasks 'a', 'b'): tools Bash, Edit are not "
        "offered by agentflow and are ignored (agentflow offers ask_agent, set_state, "
        "get_state, notify, Read, Glob, Grep; Claude Code's Task is ask_agent)"
    ]
    assert str(overridden) not in result.err and "unused" not in result.err


def test_warnings_show_in_validate_json_without_failing(capsys, tmp_path):
    path = write_workflow(tmp_path, "tasks:\n  a: {prompt: x, tools: [Bash]}\n")
    result = run_cli(capsys, "validate", "--json", str(path))
    assert result.code == 0
    (file,) = result.json()["files"]
    assert file["ok"] is True
    (problem,) = file["problems"]
    assert problem["severity"] == "warning" and problem["line"] == 4
    assert problem["message"] == "tool Bash is not offered by agentflow and is ignored"


# --- waits_for and sets ---------------------------------------------------------------


def test_waits_for_a_key_nobody_sets_is_an_error(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        """\
tasks:
  planner:
    tools: [set_state]
    sets: [plan]
    prompt: x
  worker:
    waits_for: [state.plan, state.budget]
    prompt: "{{ state.plan }}"
""",
    )
    result = validate(capsys, path)
    assert result.code == 2
    errors = problem_lines(result.err, "error")
    assert errors == [
        f"{path}:9:29: error: task 'worker' waits for state.budget, but no task declares "
        "sets: [budget] (add `sets: [budget]` to the task that calls set_state for it)"
    ]


def test_waits_for_a_misspelt_key_suggests_the_declared_one(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        """\
tasks:
  planner: {prompt: x, tools: [set_state], sets: [plan]}
  worker: {prompt: x, waits_for: [state.plann]}
""",
    )
    result = validate(capsys, path)
    assert result.code == 2
    assert "waits for state.plann, but no task declares sets: [plann]" in result.err
    assert "did you mean state.plan?" in result.err


def test_a_setter_before_or_beside_the_waiter_is_fine(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        """\
tasks:
  early: {prompt: x, tools: [set_state], sets: [a]}
  beside: {prompt: x, tools: [set_state, get_state], sets: [b], subscribe: [c]}
  waiter:
    needs: [early]
    waits_for: [state.a, state.b]
    tools: [set_state]
    sets: [c]
    prompt: "{{ state.a }} {{ state.b }}"
  last: {prompt: x, needs: [waiter], waits_for: [state.c]}
""",
    )
    result = validate(capsys, path)
    assert result.code == 0, result.err
    assert result.err == ""


@pytest.mark.parametrize(
    ("tasks", "reason"),
    [
        (
            # the only setter needs the waiter: it runs after
            """\
  waiter: {prompt: x, waits_for: [state.k]}
  setter: {prompt: x, needs: [waiter], tools: [set_state], sets: [k]}
""",
            "'setter' runs after 'waiter' (needs)",
        ),
        (
            # the waiter itself
            """\
  waiter: {prompt: x, waits_for: [state.k], tools: [set_state], sets: [k]}
  other: {prompt: x}
""",
            "'waiter' itself cannot set it before it starts",
        ),
        (
            # downstream through another task
            """\
  waiter: {prompt: x, waits_for: [state.k]}
  middle: {prompt: x, needs: [waiter]}
  setter: {prompt: x, needs: [middle], tools: [set_state], sets: [k]}
""",
            "'setter' runs after 'waiter' (needs)",
        ),
    ],
)
def test_a_setter_that_cannot_run_first_does_not_count(capsys, tmp_path, tasks, reason):
    path = write_workflow(tmp_path, "tasks:\n" + tasks)
    result = validate(capsys, path)
    assert result.code == 2, result.err
    (error,) = problem_lines(result.err, "error")
    assert error.startswith(f"{path}:4:")
    assert "task 'waiter' waits for state.k, but no task that can run before it sets it" in error
    assert reason in error
    assert "and that task must not wait on 'waiter'" in error


def test_a_cycle_of_waits_is_an_error_on_each_waiter(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        """\
tasks:
  a: {prompt: x, tools: [set_state], sets: [ka], waits_for: [state.kb]}
  b: {prompt: x, tools: [set_state], sets: [kb], waits_for: [state.ka]}
  c: {prompt: x, tools: [set_state], sets: [kb]}
""",
    )
    # c also sets kb, so a can start once c has set it, and then b once a has set ka
    result = validate(capsys, path)
    assert result.code == 0, result.err

    path.write_text(
        path.read_text().replace("  c: {prompt: x, tools: [set_state], sets: [kb]}\n", "")
    )
    result = validate(capsys, path)
    assert result.code == 2
    errors = problem_lines(result.err, "error")
    assert len(errors) == 2, result.err
    assert errors[0].startswith(f"{path}:4:")
    assert "task 'a' waits for state.kb" in errors[0]
    assert "'b' waits on 'a' (a cycle of waits)" in errors[0]
    assert errors[1].startswith(f"{path}:5:")
    assert "'a' waits on 'b' (a cycle of waits)" in errors[1]


def test_a_cycle_through_needs_and_waits(capsys, tmp_path):
    # w waits for k, set by s; s needs x; x waits for j, which only w sets.
    path = write_workflow(
        tmp_path,
        """\
tasks:
  w: {prompt: x, waits_for: [state.k], tools: [set_state], sets: [j]}
  x: {prompt: x, waits_for: [state.j]}
  s: {prompt: x, needs: [x], tools: [set_state], sets: [k]}
""",
    )
    result = validate(capsys, path)
    assert result.code == 2
    errors = problem_lines(result.err, "error")
    assert len(errors) == 2, result.err
    assert "task 'w' waits for state.k" in errors[0] and "'s' waits on 'w'" in errors[0]
    assert "task 'x' waits for state.j" in errors[1] and "'w' waits on 'x'" in errors[1]


def test_a_setter_blocked_by_another_deadlock_can_never_start(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        """\
tasks:
  stuck: {prompt: x, waits_for: [state.nobody], tools: [set_state], sets: [k]}
  waiter: {prompt: x, waits_for: [state.k]}
""",
    )
    result = validate(capsys, path)
    assert result.code == 2
    errors = problem_lines(result.err, "error")
    assert len(errors) == 2
    assert "no task declares sets: [nobody]" in errors[0]
    assert "task 'waiter' waits for state.k" in errors[1]
    assert "'stuck' can never start" in errors[1]


def test_sets_without_set_state_warns_and_does_not_count_as_a_setter(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        """\
tasks:
  setter:
    tools: [get_state]
    sets: [plan, notes]
    prompt: x
  waiter: {prompt: x, waits_for: [state.plan]}
""",
    )
    result = validate(capsys, path)
    assert result.code == 2
    assert problem_lines(result.err, "warning") == [
        f"{path}:6:5: warning: task 'setter' cannot set plan, notes: set_state is not among "
        "its tools (add set_state to its tools)"
    ]
    (error,) = problem_lines(result.err, "error")
    assert "'setter' has no set_state tool" in error


def test_a_setter_with_set_state_from_its_agent_counts(capsys, tmp_path):
    agent_file(tmp_path, "planner", "tools: set_state, Bash\n")
    path = write_workflow(
        tmp_path,
        """\
tasks:
  plan: {prompt: x, agent: planner, sets: [plan]}
  work: {prompt: x, waits_for: [state.plan]}
""",
    )
    result = validate(capsys, path)
    assert result.code == 0, result.err
    assert "tool Bash is not offered" in result.err


# --- subscribe, ask_agent, workspace ------------------------------------------------------


def test_subscribe_without_tools_has_no_effect(capsys, tmp_path):
    agent_file(tmp_path, "plain")  # no tools line: no loop
    path = write_workflow(
        tmp_path,
        """\
tasks:
  a: {prompt: x, agent: plain, subscribe: [news]}
  b: {prompt: x, agent: plain, tools: [get_state], subscribe: [state.plan, messages.news]}
""",
    )
    result = validate(capsys, path)
    assert result.code == 0
    (warning,) = problem_lines(result.err, "warning")
    assert warning.startswith(f"{path}:4:")
    assert "subscribe has no effect: task 'a' has no tools" in warning


@pytest.mark.parametrize(("tools", "line"), [("[Read, ask_agent]", 5), ("[Task]", 5)])
def test_ask_agent_without_any_agent_is_an_error(capsys, tmp_path, tools, line):
    path = write_workflow(
        tmp_path,
        f"""\
defaults:
  tools:
    - Read
    - {tools[1:-1].split(", ")[-1]}
tasks:
  a: {{prompt: x}}
  b: {{prompt: x, tools: {tools}}}
  c: {{prompt: x, tools: [Read]}}
""",
    )
    result = validate(capsys, path)
    assert result.code == 2
    errors = problem_lines(result.err, "error")
    assert len(errors) == 2, result.err  # one per place it is written: defaults and b
    assert errors[0].startswith(f"{path}:6:")
    assert "ask_agent could never answer: no agent files were found" in errors[0]
    assert errors[1].startswith(f"{path}:9:")


def test_ask_agent_with_agents_is_fine(capsys, tmp_path):
    agent_file(tmp_path, "expert")
    path = write_workflow(tmp_path, "tasks:\n  a: {prompt: x, tools: [Task]}\n")
    result = validate(capsys, path)
    assert result.code == 0, result.err
    assert result.err == ""


def test_workspace_must_be_a_folder(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    for value, what in (("missing", "does not exist"), ("notes.txt", "is not a folder")):
        path = write_workflow(tmp_path, f"workspace: {value}\ntasks:\n  a: {{prompt: x}}\n")
        result = validate(capsys, path)
        assert result.code == 2
        resolved = (tmp_path / value).resolve()
        assert f"{path}:3:12: error: workspace {resolved} {what}" in result.err


def test_workspace_is_resolved_against_the_workflow_folder(capsys, tmp_path, monkeypatch):
    (tmp_path / "wf").mkdir()
    (tmp_path / "src").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write_workflow(tmp_path / "wf", "workspace: ../src\ntasks:\n  a: {prompt: x}\n")
    assert validate(capsys, path).code == 0
    workflow, _ = loaded(path)
    assert workflow.workspace == (tmp_path / "src").resolve()
    default = write_workflow(tmp_path / "wf", "tasks:\n  a: {prompt: x}\n", name="d.yaml")
    workflow, _ = loaded(Path("..") / "wf" / default.name)
    assert workflow.workspace == (tmp_path / "wf").resolve() and workflow.workspace.is_absolute()


def test_workspace_allow_patterns_are_checked_where_they_are_written(capsys, tmp_path):
    body = "workspace: {path: ., allow: [.env.example, '../up', '!', 3]}\n"
    path = write_workflow(tmp_path, body + "tasks:\n  a: {prompt: x}\n")
    result = validate(capsys, path)
    assert result.code == 2
    assert f"{path}:3:58: error: workspace.allow.3: 3 is not of type 'string'" in result.err
    path = write_workflow(tmp_path, body.replace(", 3]", "]") + "tasks:\n  a: {prompt: x}\n")
    result = validate(capsys, path)
    assert result.code == 2
    assert problem_lines(result.err, "error") == [
        f"{path}:3:44: error: allow pattern '../up' leaves the workspace "
        "(allow patterns are relative to the workspace folder, e.g. config/*.key)",
        f"{path}:3:53: error: allow pattern '!' is not a valid gitignore pattern: "
        "Invalid git pattern: '!' (gitignore pattern syntax, e.g. .env.example, "
        "config/*.key, secrets/)",
    ]
    good = write_workflow(
        tmp_path, "workspace: {allow: [.env.example, /config/*.key]}\ntasks:\n  a: {prompt: x}\n"
    )
    assert validate(capsys, good).code == 0
    workflow, _ = loaded(good)
    assert workflow.workspace == tmp_path.resolve()
    assert workflow.workspace_allow == (".env.example", "/config/*.key")


# --- the schema -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("tasks:\n  a: {prompt: x, max_turns: 0}\n", "tasks.a.max_turns: 0 is less than"),
        ("defaults: {max_turns: 101}\ntasks:\n  a: {prompt: x}\n", "greater than the maximum"),
        ("tasks:\n  a: {prompt: x, tools: 'Read, Grep'}\n", "is not of type 'array'"),
        ("tasks:\n  a: {prompt: x, tools: ['']}\n", "tasks.a.tools.0: '' should be non-empty"),
        (
            "tasks:\n  a: {prompt: x, waits_for: [plan]}\n",
            "tasks.a.waits_for.0: 'plan' is not of the form state.KEY",
        ),
        (
            "tasks:\n  a: {prompt: x, waits_for: [state.]}\n",
            "'state.' is not of the form state.KEY",
        ),
        (
            "tasks:\n  a: {prompt: x, sets: [state.x, 'a b']}\n",
            "'a b' is not of the form a state key",
        ),
        (
            "tasks:\n  a: {prompt: x, subscribe: [messages.]}\n",
            "'messages.' is not of the form state.KEY, messages.TOPIC or NAME",
        ),
        ("ask: {max_depth: 11}\ntasks:\n  a: {prompt: x}\n", "ask.max_depth: 11 is greater"),
        ("ask: {timeout: 0}\ntasks:\n  a: {prompt: x}\n", "ask.timeout: 0 is less than or"),
        ("ask: {depth: 1}\ntasks:\n  a: {prompt: x}\n", "unknown key 'depth' in ask"),
        ("workspace: ''\ntasks:\n  a: {prompt: x}\n", "workspace: '' should be non-empty"),
        ("workspace: {pth: .}\ntasks:\n  a: {prompt: x}\n", "unknown key 'pth' in workspace"),
        ("workspace: {allow: .env}\ntasks:\n  a: {prompt: x}\n", "'.env' is not of type 'array'"),
        ("tasks:\n  a: {prompt: x, waits: [state.x]}\n", "unknown key 'waits' in tasks.a"),
    ],
)
def test_schema_rejects_bad_values(capsys, tmp_path, body, expected):
    path = write_workflow(tmp_path, body)
    result = validate(capsys, path)
    assert result.code == 2
    assert expected in result.err, result.err


def test_schema_accepts_every_new_key(capsys, tmp_path):
    agent_file(tmp_path, "helper")
    (tmp_path / "src").mkdir()
    path = write_workflow(
        tmp_path,
        """\
workspace: src
ask: {max_depth: 0, timeout: 30.5}
defaults: {tools: [Read, Glob, Grep], max_turns: 4}
tasks:
  a:
    tools: [set_state, notify, get_state, ask_agent]
    max_turns: 100
    sets: [plan.v2, notes]
    subscribe: [state.x, messages.y, z]
    prompt: "{{ state.plan.v2 }} {{ messages.y }}"
  b: {prompt: x, needs: a, waits_for: [state.plan.v2], tools: []}
""",
    )
    result = validate(capsys, path)
    assert result.code == 0, result.err
    workflow, _ = loaded(path)
    a, b = workflow.tasks["a"], workflow.tasks["b"]
    assert a.sets == ("plan.v2", "notes")
    assert a.subscribe == ("state.x", "messages.y", "z")
    assert b.waits_for == ("plan.v2",) and a.waits_for == () and b.sets == ()
    assert workflow.ask.max_depth == 0 and workflow.ask.timeout == 30.5
    assert workflow.effective(a).tools == ("set_state", "notify", "get_state", "ask_agent")
    assert workflow.effective(a).max_turns == 100
    assert workflow.effective(b).tools == () and workflow.effective(b).max_turns == 4


def test_defaults_of_the_new_settings(tmp_path):
    path = write_workflow(tmp_path, "tasks:\n  a: {prompt: x}\n")
    workflow, _ = loaded(path)
    task = workflow.tasks["a"]
    assert task.settings.tools is None and workflow.effective(task).tools is None
    assert workflow.effective(task).max_turns is None
    assert workflow.ask.max_depth == 2 and workflow.ask.timeout == 120.0
    assert workflow.workspace == tmp_path.resolve()


# --- selection ------------------------------------------------------------------------


def test_known_tools_are_the_contract():
    assert KNOWN_TOOLS == ("ask_agent", "set_state", "get_state", "notify", "Read", "Glob", "Grep")


def test_task_tools_override_defaults_which_override_the_agent(tmp_path):
    agent_file(tmp_path, "reader", "tools: Read, Task, Bash, Read\n")
    agent_file(tmp_path, "plain")
    path = write_workflow(
        tmp_path,
        """\
tasks:
  own: {prompt: x, agent: reader, tools: [notify, Task, ask_agent, WebFetch, notify]}
  none: {prompt: x, agent: reader, tools: []}
  agent: {prompt: x, agent: reader}
  plain: {prompt: x, agent: plain}
  bare: {prompt: x}
""",
    )
    workflow, agents = loaded(path)

    def pick(tid: str) -> ToolSelection:
        return select_tools(workflow, workflow.tasks[tid], agents.get(tid))

    assert pick("own") == ToolSelection(("notify", "ask_agent"), ("WebFetch",), "task")
    assert pick("own").loops
    assert pick("none") == ToolSelection((), (), "task") and not pick("none").loops
    assert pick("agent") == ToolSelection(("Read", "ask_agent"), ("Bash",), "agent")
    # an agent file without a tools line does not restrict tools: that is no loop here
    assert pick("plain") == ToolSelection((), (), "none") and not pick("plain").loops
    assert pick("bare") == ToolSelection((), (), "none")

    with_defaults = write_workflow(
        tmp_path,
        """\
defaults: {tools: [Grep]}
tasks:
  agent: {prompt: x, agent: reader}
  own: {prompt: x, agent: reader, tools: [Glob]}
  none: {prompt: x, agent: reader, tools: []}
""",
        name="defaults.yaml",
    )
    workflow, agents = loaded(with_defaults)
    assert pick("agent") == ToolSelection(("Grep",), (), "defaults")
    assert pick("own") == ToolSelection(("Glob",), (), "task")
    assert pick("none").tools == ()

    no_tools = write_workflow(
        tmp_path, "defaults: {tools: []}\ntasks:\n  a: {prompt: x, agent: reader}\n", name="n.yaml"
    )
    workflow, agents = loaded(no_tools)
    assert pick("a") == ToolSelection((), (), "defaults")


@pytest.mark.parametrize(
    ("frontmatter", "expected"),
    [
        ("", DEFAULT_MAX_TURNS),
        ("maxTurns: 12\n", 12),
        ("maxTurns: '5'\n", 5),
        ("maxTurns: lots\n", DEFAULT_MAX_TURNS),
        ("maxTurns: 0\n", DEFAULT_MAX_TURNS),
        ("maxTurns: true\n", DEFAULT_MAX_TURNS),
        ("maxTurns: 2.5\n", DEFAULT_MAX_TURNS),
        ("maxTurns: 500\n", 100),
    ],
)
def test_max_turns_from_the_agent(tmp_path, frontmatter, expected):
    agent_file(tmp_path, "looper", frontmatter)
    path = write_workflow(tmp_path, "tasks:\n  a: {prompt: x, agent: looper}\n")
    workflow, agents = loaded(path)
    assert max_turns(workflow, workflow.tasks["a"], agents["a"]) == expected


def test_max_turns_task_then_defaults_then_agent(tmp_path):
    agent_file(tmp_path, "looper", "maxTurns: 12\n")
    path = write_workflow(
        tmp_path,
        """\
defaults: {max_turns: 3}
tasks:
  own: {prompt: x, agent: looper, max_turns: 20}
  inherited: {prompt: x, agent: looper}
""",
    )
    workflow, agents = loaded(path)
    assert max_turns(workflow, workflow.tasks["own"], agents["own"]) == 20
    assert max_turns(workflow, workflow.tasks["inherited"], agents["inherited"]) == 3
    path = write_workflow(tmp_path, "tasks:\n  a: {prompt: x, agent: looper}\n", name="b.yaml")
    workflow, agents = loaded(path)
    assert max_turns(workflow, workflow.tasks["a"], agents["a"]) == 12
    assert max_turns(workflow, workflow.tasks["a"], None) == DEFAULT_MAX_TURNS


def test_subscriptions_split_keys_and_topics(tmp_path):
    path = write_workflow(
        tmp_path,
        """\
tasks:
  a:
    prompt: x
    tools: [get_state]
    subscribe: [state.plan, messages.review, news, state.news, messages.plan.v2, plan.v2]
  b: {prompt: x}
""",
    )
    workflow, _ = loaded(path)
    keys, topics = subscriptions(workflow.tasks["a"])
    assert keys == ("plan", "news", "plan.v2")
    assert topics == ("review", "news", "plan.v2")
    assert subscriptions(workflow.tasks["b"]) == ((), ())


# --- templates ------------------------------------------------------------------------


def test_state_and_messages_templates_render():
    template = (
        "plan={{ state.plan }} n={{ state.count }} d={{state.doc}} none={{ state.nothing }} "
        "unset=[{{ state.unset }}] dotted={{ state.plan.v2 }} "
        "news={{ messages.news }} quiet=[{{ messages.quiet }}]"
    )
    context = RenderContext(
        {},
        {},
        {},
        state={
            "plan": "ship it",
            "count": 3,
            "doc": {"a": [1, "é"], "b": True},
            "nothing": None,
            "plan.v2": "two",
        },
        messages={"news": "[a] hello\n[b] bye"},
    )
    assert render_template(template, context) == (
        'plan=ship it n=3 d={"a":[1,"é"],"b":true} none=null unset=[] dotted=two '
        "news=[a] hello\n[b] bye quiet=[]"
    )
    refs, issues = parse_template(template)
    assert not issues
    assert [(r.kind, r.name) for r in refs][-3:] == [
        ("state", "plan.v2"),
        ("messages", "news"),
        ("messages", "quiet"),
    ]


def test_render_context_defaults_to_empty_state_and_messages():
    context = RenderContext({"x": "1"}, {}, {})
    assert render_template("{{ inputs.x }}{{ state.k }}{{ messages.t }}", context) == "1"


def test_state_templates_validate_and_typos_are_reported(capsys, tmp_path):
    path = write_workflow(
        tmp_path,
        """\
tasks:
  ok: {prompt: "{{ state.plan }} and {{ messages.review }}"}
  typo: {prompt: "{{ stat.plan }} {{ message.review }}"}
  bad: {prompt: "{{ state }} {{ messages.a..b }}"}
""",
    )
    result = validate(capsys, path)
    assert result.code == 2
    errors = problem_lines(result.err, "error")
    assert len(errors) == 4, result.err
    assert f"{path}:5:" in errors[0] and "unknown template '{{ stat.plan }}'" in errors[0]
    assert "did you mean 'state'?" in errors[0]
    assert "did you mean 'messages'?" in errors[1]
    assert "malformed template '{{ state }}' (use {{ state.KEY }})" in errors[2]
    assert "malformed template '{{ messages.a..b }}' (use {{ messages.TOPIC }})" in errors[3]
    assert "ok" not in " ".join(e.split(": error:")[1] for e in errors)
