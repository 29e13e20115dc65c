"""Agent files: clean ones load exactly, messy ones load with a warning, broken ones explain why."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from agentflow.errors import Problem
from agentflow.spec.agents import (
    NOT_AGENT_FILES,
    Agent,
    discover_agents,
    load_agent_file,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agents"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "agent-corpus"
REPO_AGENTS = Path(__file__).resolve().parents[2] / "agents"


def load(path: Path) -> tuple[Agent, list[Problem]]:
    agent, problems = load_agent_file(path)
    assert agent is not None, [p.format() for p in problems]
    return agent, problems


def load_bytes(tmp_path: Path, data: bytes, name: str = "agent.md") -> tuple:
    path = tmp_path / name
    path.write_bytes(data)
    return load_agent_file(path)


def warnings(problems: list[Problem]) -> list[Problem]:
    assert all(not p.is_error for p in problems), [p.format() for p in problems]
    return problems


def only_error(problems: list[Problem]) -> Problem:
    errors = [p for p in problems if p.is_error]
    assert len(errors) == 1, [p.format() for p in problems]
    return errors[0]


# Clean files


def test_clean_file_parses_every_field() -> None:
    path = FIXTURES / "clean" / "code-reviewer.md"
    agent, problems = load(path)
    assert problems == []
    assert agent == Agent(
        name="code-reviewer",
        description="Reviews code for quality. Use after writing code.",
        tools=("Read", "Grep", "Glob"),
        model="sonnet",
        system_prompt=(
            "You review code changes for correctness, clarity and tests.\n\n"
            "Report findings by severity."
        ),
        path=path,
        extra={"color": "blue"},
    )


def test_tools_as_yaml_list_and_quoted_description() -> None:
    agent, problems = load(FIXTURES / "clean" / "summarizer.md")
    assert problems == []
    assert agent.tools == ("Read", "WebFetch")
    assert agent.description == "Summarizes long documents: keeps decisions, owners and dates."
    assert agent.model == "haiku"


def test_no_tools_means_empty_tuple_and_extra_keys_are_kept() -> None:
    agent, problems = load(FIXTURES / "clean" / "planner.md")
    assert problems == []
    assert agent.tools == ()
    assert agent.model == "claude-opus-4-1-20250805"
    assert agent.extra == {"permissionMode": "plan", "tags": ["planning", "design"]}


def test_tools_split_at_commas_but_not_inside_parentheses(tmp_path: Path) -> None:
    text = (
        b"---\nname: a\ndescription: d\ntools: Read,Grep , Bash(git add:*, git commit:*),\n---\nb"
    )
    agent, problems = load_bytes(tmp_path, text)
    assert problems == []
    assert agent.tools == ("Read", "Grep", "Bash(git add:*, git commit:*)")


def test_repeated_tools_are_listed_once(tmp_path: Path) -> None:
    agent, _ = load_bytes(tmp_path, b"---\nname: a\ndescription: d\ntools: Bash, Read, Bash\n---\n")
    assert agent.tools == ("Bash", "Read")


def test_invisible_differences_load_silently(tmp_path: Path) -> None:
    # BOM, CRLF and spaces after the delimiters: nothing for the author to fix.
    data = b"\xef\xbb\xbf---  \r\nname: crlf\r\ndescription: d\r\n--- \r\nline one\r\nline two\r\n"
    agent, problems = load_bytes(tmp_path, data)
    assert problems == []
    assert (agent.name, agent.system_prompt) == ("crlf", "line one\nline two")


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    data = "---\nname: wide\ndescription: d\n---\nbody".encode("utf-16")
    agent, problems = load_bytes(tmp_path, data)
    assert problems == [] and agent is not None and agent.name == "wide"


# Messy files: loaded, with a warning that names the file and the line


def test_colon_in_description_recovers_with_yaml_warning() -> None:
    path = FIXTURES / "messy" / "colon-in-description.md"
    agent, problems = load(path)
    assert agent.description == "Checks data handling. Triggers on: 'GDPR', 'consent', 'retention'."
    assert agent.tools == ("Read", "Grep")
    (problem,) = warnings(problems)
    assert problem.file == str(path)
    assert (problem.line, problem.col) == (3, 47)
    assert problem.message.startswith("frontmatter is not valid YAML (mapping values")
    assert problem.message.endswith("read it line by line")
    assert "quoted" in (problem.hint or "")


def test_example_blocks_with_escapes_recover_as_written() -> None:
    agent, problems = load(FIXTURES / "messy" / "example-blocks.md")
    # The \n escapes stay as written: that is what Claude Code shows for an unquoted value.
    assert agent.description.startswith("Use this agent when tests are missing. Examples:\\n\\n")
    assert agent.description.endswith("</example>")
    assert agent.model == "inherit"
    (problem,) = warnings(problems)
    assert problem.line == 3 and "not valid YAML" in problem.message


def test_long_closing_delimiter_recovers() -> None:
    agent, problems = load(FIXTURES / "messy" / "long-delimiter.md")
    assert agent.tools == ("Read", "Write", "Edit")
    assert agent.system_prompt.startswith("# UI builder")
    (problem,) = warnings(problems)
    assert problem.line == 6 and "40 dashes" in problem.message


def test_name_with_spaces_loads_as_written_with_a_warning() -> None:
    agent, problems = load(FIXTURES / "messy" / "odd-names.md")
    assert agent.name == "Python Security Expert"
    assert agent.extra == {"version": "1.0.0", "tags": ["python", "security"]}
    (problem,) = warnings(problems)
    assert problem.line == 2 and "python-security-expert" in (problem.hint or "")


def test_dotted_name_is_fine() -> None:
    agent, problems = load(FIXTURES / "messy" / "dotted-name.md")
    assert (agent.name, problems) == ("powershell-5.1-expert", [])


def test_continuation_lines_block_lists_and_block_scalars_recover() -> None:
    agent, problems = load(FIXTURES / "messy" / "unquoted-block.md")
    assert agent.description == (
        "Moves code between frameworks. Use when: the user asks to migrate "
        "from one framework to another, or to upgrade a major version."
    )
    assert agent.tools == ("Read", "Edit")
    assert agent.extra == {"notes": "Keep the old tests passing: they are the contract.\n"}
    (problem,) = warnings(problems)
    assert problem.line == 3


def test_tabs_recover_with_a_tab_hint(tmp_path: Path) -> None:
    data = b"---\nname:\tfoo\ndescription: d\n\tcontinued\ntools: Read,\tGrep\n---\nbody\n"
    agent, problems = load_bytes(tmp_path, data)
    assert (agent.name, agent.description, agent.tools) == ("foo", "d continued", ("Read", "Grep"))
    (problem,) = warnings(problems)
    assert problem.line == 2 and "tabs" in (problem.hint or "")


def test_unindented_continuation_is_read_as_part_of_the_value(tmp_path: Path) -> None:
    data = b"---\nname: a\ndescription: Use it: when\nyou need it\ntools: Read\n---\nb"
    agent, problems = load_bytes(tmp_path, data)
    assert (agent.description, agent.tools) == ("Use it: when you need it", ("Read",))
    assert [p.line for p in warnings(problems)] == [3, 4]


def test_non_text_values_are_read_as_written(tmp_path: Path) -> None:
    data = b"---\nname: 1.10\ndescription: yes\ntools: 5\nmodel: 4\n---\nb"
    agent, problems = load_bytes(tmp_path, data)
    assert (agent.name, agent.description, agent.tools, agent.model) == ("1.10", "yes", ("5",), "4")
    assert [p.line for p in warnings(problems)] == [2, 3, 4, 5]
    assert problems[0].hint == 'quote it: name: "1.10"'


def test_space_separated_tools_are_split_with_a_warning(tmp_path: Path) -> None:
    data = b"---\nname: a\ndescription: d\ntools: Read Grep Bash(git log:*)\n---\nb"
    agent, problems = load_bytes(tmp_path, data)
    assert agent.tools == ("Read", "Grep", "Bash(git log:*)")
    assert warnings(problems)[0].line == 4


def test_repeated_key_warns_even_when_yaml_accepts_it(tmp_path: Path) -> None:
    agent, problems = load_bytes(tmp_path, b"---\nname: a\nname: b\ndescription: d\n---\nx")
    assert agent.name == "b"
    (problem,) = warnings(problems)
    assert problem.line == 3 and "given twice" in problem.message


def test_blank_lines_before_frontmatter_and_empty_body_warn(tmp_path: Path) -> None:
    agent, problems = load_bytes(tmp_path, b"\n\n---\nname: a\ndescription: d\n---\n\n")
    assert (agent.name, agent.system_prompt) == ("a", "")
    assert [p.line for p in warnings(problems)] == [3, 6]


# Broken files: an error Problem, no agent, no exception


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("no-closing.md", 1, "no closing '---'"),
        ("empty-frontmatter.md", 1, "frontmatter is empty"),
        ("missing-name.md", 1, "no 'name'"),
        ("missing-description.md", 1, "no 'description'"),
        ("tools-mapping.md", 4, "tools must be tool names"),
    ],
)
def test_broken_fixture_gives_one_clear_error(name: str, line: int, words: str) -> None:
    path = FIXTURES / "broken" / name
    agent, problems = load_agent_file(path)
    assert agent is None
    error = only_error(problems)
    assert (error.file, error.line) == (str(path), line)
    assert words in error.message
    assert error.hint


def test_missing_name_suggests_one_from_the_file_name() -> None:
    _, problems = load_agent_file(FIXTURES / "broken" / "missing-name.md")
    assert "name: missing-name" in (only_error(problems).hint or "")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "no frontmatter"),
        (b"# Title\n\ntext", "no frontmatter"),
        (b"---\n", "no closing"),
        (b"---\n# only a comment\n---\nbody", "frontmatter is empty"),
        (b"---\nname: a\ndescription: \x00\x01\n---\n", "binary"),
        (b"---\nname: a\ndescription: caf\xe9\n---\n", "not UTF-8"),
        (b"---\nname:\ndescription: d\n---\n", "name is empty"),
        (b"---\nname: a\ndescription:\n  - x\n---\n", "description must be text"),
        (b"---\nname: a\ndescription: d\nmodel: [a, b]\n---\n", "model must be one"),
        (b"---\njust a sentence\n---\nbody", "no 'name'"),
    ],
)
def test_unreadable_inputs_give_an_error_not_an_exception(
    tmp_path: Path, data: bytes, words: str
) -> None:
    agent, problems = load_bytes(tmp_path, data)
    assert agent is None
    errors = [p for p in problems if p.is_error]
    assert errors and words in errors[0].message, [p.format() for p in problems]


def test_undecodable_byte_is_located(tmp_path: Path) -> None:
    _, problems = load_bytes(tmp_path, b"---\nname: a\ndescription: caf\xe9\n---\n")
    assert only_error(problems).line == 3


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as handle:
        handle.truncate(6 * 1024 * 1024)
    agent, problems = load_agent_file(path)
    assert agent is None and "too large" in only_error(problems).message


def test_missing_file_and_folder_path(tmp_path: Path) -> None:
    for path in (tmp_path / "nope.md", tmp_path):
        agent, problems = load_agent_file(path)
        assert agent is None and only_error(problems).file == str(path)


# Folders


def test_discover_reads_folders_recursively_and_skips_readme() -> None:
    catalog = discover_agents([FIXTURES / "clean", FIXTURES / "dupes" / "sub"])
    assert list(catalog.agents) == ["code-reviewer", "planner", "summarizer", "twin"]
    assert catalog.problems == ()


def test_markdown_without_frontmatter_is_a_warning_in_a_folder_scan() -> None:
    catalog = discover_agents([FIXTURES / "messy"])
    assert len(catalog.agents) == 6
    skipped = [p for p in catalog.problems if "not an agent file" in p.message]
    assert [(p.file, p.severity) for p in skipped] == [
        (str(FIXTURES / "messy" / "not-an-agent.md"), "warning")
    ]


def test_broken_files_are_reported_and_the_rest_load() -> None:
    catalog = discover_agents([FIXTURES / "broken", FIXTURES / "clean"])
    assert len(catalog.agents) == 3
    assert sum(p.is_error for p in catalog.problems) == 5


def test_duplicate_name_names_both_files_and_keeps_the_first() -> None:
    catalog = discover_agents([FIXTURES / "dupes"])
    first, second = FIXTURES / "dupes" / "a.md", FIXTURES / "dupes" / "sub" / "b.md"
    assert catalog.agents["twin"].path == first
    error = only_error(list(catalog.problems))
    assert error.message == f'agent name "twin" is defined twice: {first} and {second}'
    assert (error.file, error.line) == (str(second), 2)


def test_overlapping_folders_do_not_make_duplicates() -> None:
    catalog = discover_agents([FIXTURES / "dupes" / "sub", FIXTURES / "dupes" / "sub"])
    assert list(catalog.agents) == ["twin"] and catalog.problems == ()


def test_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-agents"
    catalog = discover_agents([missing, FIXTURES / "clean"])
    error = only_error(list(catalog.problems))
    assert str(missing) in error.message and "does not exist" in error.message
    assert error.hint and len(catalog.agents) == 3


def test_repository_example_agents_load_cleanly() -> None:
    catalog = discover_agents([REPO_AGENTS])
    assert catalog.problems == ()
    assert 4 <= len(catalog.agents) <= 6
    models = {a.model for a in catalog.agents.values()}
    assert {"haiku", "sonnet", "opus", "inherit"} <= models


# The corpus of real public agent files


def corpus_files() -> list[Path]:
    files = sorted(CORPUS.rglob("*.md"))
    return [p for p in files if p.name.lower() not in NOT_AGENT_FILES]


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"agent corpus not found at {CORPUS}")
def test_every_corpus_agent_loads(capsys: pytest.CaptureFixture[str]) -> None:
    files = corpus_files()
    kinds: Counter[str] = Counter()  # warning messages with their specifics blanked out
    warned = 0
    for path in files:
        agent, problems = load_agent_file(path)
        assert agent is not None, [p.format() for p in problems]
        assert not any(p.is_error for p in problems)
        warned += bool(problems)
        for problem in problems:
            assert problem.file == str(path) and problem.line is not None
            kinds[re.sub(r"'[^']*'|\(.*\)|\d+", "_", problem.message)] += 1
    with capsys.disabled():
        print(f"\ncorpus: {len(files)} agent files loaded, {warned} with warnings:")
        for kind, count in kinds.most_common():
            print(f"  {count:4}  {kind}")
    assert len(files) == 400


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"agent corpus not found at {CORPUS}")
def test_corpus_duplicates_name_both_files() -> None:
    catalog = discover_agents([CORPUS])
    duplicates = [p for p in catalog.problems if p.is_error]
    assert all("is defined twice" in p.message for p in duplicates)
    for problem in duplicates:
        name = problem.message.split('"')[1]
        first = str(catalog.agents[name].path)
        assert problem.message.endswith(f": {first} and {problem.file}")
    assert len(catalog.agents) + len(duplicates) == len(corpus_files())


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"agent corpus not found at {CORPUS}")
def test_corpus_duplicate_within_one_repository() -> None:
    folder = CORPUS / "vijaythecoder__awesome-claude-agents"
    catalog = discover_agents([folder])
    error = only_error(list(catalog.problems))
    first = folder / "specialized__vue__vue-component-architect.md"
    second = folder / "specialized__vue__vue-state-manager.md"
    expected = f'agent name "vue-component-architect" is defined twice: {first} and {second}'
    assert error.message == expected
