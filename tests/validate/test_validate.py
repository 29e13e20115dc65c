"""`agentflow validate`: every bad input gets FILE:LINE:COL, a clear message and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workflows"
GOOD = FIXTURES / "good.yaml"


def write(tmp_path: Path, text: str, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_workflow_validates(capsys):
    result = run_cli(capsys, "validate", str(GOOD))
    assert result.code == 0, result.err
    assert "good.yaml: ok (5 tasks, 2 agents)" in result.out


def test_example_workflows_validate(capsys):
    examples = sorted((Path(__file__).resolve().parents[2] / "workflows").glob("*.yaml"))
    assert examples, "the repo ships example workflows"
    result = run_cli(capsys, "validate", *map(str, examples))
    assert result.code == 0, result.err


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: p / "missing.yaml", "workflow file not found"),
        (lambda p: p, "is a directory"),
        (lambda p: write(p, ""), "the file is empty"),
        (lambda p: write(p, "# only a comment\n"), "the file is empty"),
        (lambda p: _binary(p), "binary"),
        (lambda p: _huge(p), "the limit is 16 MB"),
        (lambda p: write(p, "a: " + "[" * 3000 + "]" * 3000), "nested too deeply"),
        (lambda p: write(p, "a: " + "{b: " * 3000 + "}" * 3000), "nested too deeply"),
        (lambda p: write(p, "version: 1\nname: x\ntasks: {a: {prompt: 'x'}\n"), "invalid YAML"),
        (lambda p: write(p, "- just\n- a list\n"), "a workflow is a mapping"),
    ],
)
def test_unreadable_inputs_get_one_clear_message(capsys, tmp_path, setup, expected):
    path = setup(tmp_path)
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert expected in result.err  # agentflow's own words, whatever the YAML parser says
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err + result.out
    assert str(path) in result.err


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 64)
    return path


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    return path


def test_not_utf8(capsys, tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert "not UTF-8" in result.err


def test_reports_every_problem_with_positions(capsys, tmp_path):
    path = write(
        tmp_path,
        """\
version: 1
name: many
inputs:
  topic: {}
tasks:
  draft:
    prompt: "About {{ inputs.topik }}"
  review:
    needs: [draft, drafts]
    prompt: "Check {{ tasks.draft.output }} and {{ tasks.publish.output }}"
    model: opuss
  publish:
    needs: [review]
    prompt: "{{ tasks.draft.json.verdict }}"
""",
    )
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert f"{path}:7:" in lines[0] and "unknown input 'topik'" in lines[0]
    assert "did you mean 'topic'?" in lines[0]
    assert any(f"{path}:9:20: error: unknown task 'drafts' in needs" in ln for ln in lines)
    assert any("task 'publish' is not upstream of 'review'" in ln for ln in lines)
    assert any("unknown model 'opuss'" in ln and "did you mean 'opus'?" in ln for ln in lines)
    assert any("task 'draft' has no output_schema" in ln for ln in lines)
    assert len(lines) == 5


def test_duplicate_keys_are_errors_not_overwrites(capsys, tmp_path):
    path = write(
        tmp_path,
        """\
version: 1
name: dup
tasks:
  a:
    prompt: first
  a:
    prompt: second
""",
    )
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert f"{path}:6:3: error: duplicate key 'a' (first defined on line 4)" in result.err


def test_cycle_is_printed(capsys, tmp_path):
    path = write(
        tmp_path,
        """\
version: 1
name: loop
tasks:
  a: {prompt: x, needs: [c]}
  b: {prompt: x, needs: [a]}
  c: {prompt: x, needs: [b]}
  d: {prompt: x, needs: [d]}
""",
    )
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert "cycle: a -> b -> c -> a" in result.err
    assert "task 'd' needs itself" in result.err


def test_schema_errors_name_the_place_and_the_fix(capsys, tmp_path):
    path = write(
        tmp_path,
        """\
version: 1
name: types
concurrency: many
taks: {}
defaults:
  max_tokens: -5
tasks:
  Bad_Id: {prompt: x}
  ok:
    prompt: 42
    needs: 7
""",
    )
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    err = result.err
    assert f"{path}:3:14: error: concurrency: 'many' is not of type 'integer'" in err
    assert f"{path}:4:1: error: unknown key 'taks' in the workflow (allowed keys:" in err
    assert f"{path}:6:15: error: defaults.max_tokens: -5 is less than the minimum of 1" in err
    assert f"{path}:8:3: error: invalid name 'Bad_Id' in tasks" in err
    assert f"{path}:10:13: error: tasks.ok.prompt: 42 is not of type 'string'" in err
    assert f"{path}:11:12: error: tasks.ok.needs: 7 is not of type 'array', 'string'" in err


def test_missing_required_keys(capsys, tmp_path):
    path = write(tmp_path, "name: x\n")
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert "'version' is a required property" in result.err
    assert "'tasks' is a required property" in result.err


def test_unknown_agent_did_you_mean(capsys, tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "writer.md").write_text(
        "---\nname: writer\ndescription: writes\n---\nYou write.\n"
    )
    path = write(tmp_path, "version: 1\nname: x\ntasks:\n  a: {prompt: x, agent: writter}\n")
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert f"{path}:4:25: error: unknown agent 'writter' (did you mean 'writer'?)" in result.err


def test_missing_agent_folder_is_named(capsys, tmp_path):
    path = write(tmp_path, "version: 1\nname: x\nagents: ./nowhere\ntasks:\n  a: {prompt: x}\n")
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert "nowhere" in result.err


def test_duplicate_agent_names_name_both_files(capsys, tmp_path):
    folder = tmp_path / "agents"
    folder.mkdir()
    for name in ("one.md", "two.md"):
        (folder / name).write_text("---\nname: twin\ndescription: d\n---\nbody\n")
    path = write(tmp_path, "version: 1\nname: x\ntasks:\n  a: {prompt: x, agent: twin}\n")
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert "one.md" in result.err and "two.md" in result.err


def test_several_files_at_once(capsys, tmp_path):
    bad = write(tmp_path, "version: 1\n", "bad.yaml")
    result = run_cli(capsys, "validate", str(GOOD), str(bad))
    assert result.code == 2
    assert "good.yaml: ok" in result.out
    assert "bad.yaml" in result.err


def test_validate_json(capsys, tmp_path):
    bad = write(tmp_path, "version: 1\nname: x\ntasks:\n  a: {prompt: x, needs: [b]}\n")
    result = run_cli(capsys, "validate", "--json", str(GOOD), str(bad))
    assert result.code == 2
    files = result.json()["files"]
    assert [f["ok"] for f in files] == [True, False]
    problem = files[1]["problems"][0]
    assert problem["line"] == 4 and problem["severity"] == "error"
    assert problem["message"] == "unknown task 'b' in needs"


def test_alias_bomb_is_refused(capsys, tmp_path):
    lines = ["version: 1", "name: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = write(tmp_path, "\n".join(lines) + "\ntasks: {a: {prompt: x}}\n")
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert "expands to more than" in result.err


def test_a_json_field_the_output_schema_does_not_declare_is_an_error(capsys, tmp_path):
    """Issue 11, item 18: a typo of a declared field rendered as empty text."""
    path = write(
        tmp_path,
        """\
version: 1
name: typo
tasks:
  verdict:
    prompt: Judge it
    output_schema: {type: object, properties: {verdict: {type: string}}, required: [score]}
  use:
    needs: [verdict]
    prompt: "{{ tasks.verdict.json.verdcit }} {{ tasks.verdict.json.score }}"
""",
    )
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert f"{path}:9:" in line and "declares no field 'verdcit'" in line
    assert "did you mean 'verdict'?" in line  # `score`, listed as required, is fine


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("tasks:\n  yes: {prompt: hi}\n", "4:3: error: the key 'yes' is read by YAML as bool True"),
        ("tasks:\n  ~: {prompt: hi}\n", "4:3: error: the key '~' is read by YAML as null None"),
        ("tasks:\n  a: {prompt: hi}\n  on: {prompt: x}\n", "the key 'on' is read by YAML as bool"),
        ("budget: {usd: .nan}\ntasks:\n  a: {prompt: hi}\n", "3:15: error: .nan is not a number"),
        ("budget: {tokens: 100000000000000000000}\ntasks:\n  a: {prompt: hi}\n", "is too large"),
    ],
)
def test_values_yaml_reads_otherwise_than_written_are_errors(capsys, tmp_path, body, expected):
    """Issue 11, item 10: these validated, or crashed later with an internal error."""
    path = write(tmp_path, "version: 1\nname: odd\n" + body)
    for command in ("validate", "plan"):
        result = run_cli(capsys, command, str(path))
        assert result.code == 2 and result.out == ""
        assert expected in result.err and "internal error" not in result.err


@pytest.mark.parametrize("price", [".nan", "-1", ".inf"])
def test_a_price_that_is_not_a_sum_of_dollars_is_exit_2(capsys, tmp_path, price):
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"models:\n  m: {{input: {price}, output: 1}}\n")
    path = write(tmp_path, "version: 1\nname: p\ntasks:\n  a: {prompt: hi, model: m}\n")
    result = run_cli(capsys, "plan", str(path), "--prices", str(prices))
    assert result.code == 2 and "a price must be a number of dollars, 0 or more" in result.err


def test_schema_errors_do_not_hide_the_other_problems(capsys, tmp_path):
    """Issue 11, item 22: after the schema's errors come the reference, agent and model
    checks of everything the schema errors leave readable, all sorted by place."""
    path = write(
        tmp_path,
        """\
version: 1
name: all-at-once
defaults: {model: haiku}
tasks:
  draft: {prompt: "Write", max_tokens: lots}
  review: {prompt: "Review", needs: [drfat]}
  publish: {prompt: "Publish {{ tasks.reveiw.output }}", needs: [draft]}
  stub: 5
  last: {prompt: "x {{ tasks.stub.output }}", needs: [stub], model: gpt-9}
""",
    )
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert result.err.splitlines() == [
        f"{path}:5:40: error: tasks.draft.max_tokens: 'lots' is not of type 'integer' "
        "(Output tokens at most for one call. Default 1024.)",
        f"{path}:6:38: error: unknown task 'drfat' in needs (did you mean 'draft'?)",
        f"{path}:7:30: error: {{{{ tasks.reveiw.output }}}}: unknown task 'reveiw' "
        "(did you mean 'review'?)",
        f"{path}:8:9: error: tasks.stub: 5 is not of type 'object'",
        f"{path}:9:69: error: unknown model 'gpt-9' (use haiku, sonnet, opus or a priced "
        "model id. Other models can be priced with --prices FILE)",
    ]
    as_json = run_cli(capsys, "validate", str(path), "--json").json()["files"][0]
    assert not as_json["ok"] and [p["line"] for p in as_json["problems"]] == [5, 6, 7, 8, 9]


def test_an_output_schema_whose_required_is_not_a_list_is_a_problem_not_a_crash(capsys, tmp_path):
    path = write(
        tmp_path,
        """\
version: 1
name: odd-schema
defaults: {model: haiku}
tasks:
  a: {prompt: x, output_schema: {type: object, required: 1.5}}
  b: {prompt: "{{ tasks.a.json.verdict }}", needs: [a]}
""",
    )
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2 and "internal error" not in result.err
    assert f"{path}:5:" in result.err and "output_schema" in result.err
