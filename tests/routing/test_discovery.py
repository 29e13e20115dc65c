"""Agent discovery: tokenizer, BM25F ranking, weak matches, `agents match`, corpus accuracy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agentflow.cli.agents import match as match_command
from agentflow.errors import AgentflowError
from agentflow.routing.discovery import (
    WEAK_SCORE,
    AgentIndex,
    AgentMatch,
    is_weak,
    tokenize,
    weak_reason,
    words,
)
from agentflow.spec.agents import Agent, discover_agents

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "agent-corpus"
QUERIES = ROOT / "benchmarks" / "data" / "agent_queries.jsonl"


def agent(name: str, description: str, body: str = "", path: str | None = None) -> Agent:
    return Agent(name, description, (), None, body, Path(path or f"agents/{name}.md"))


TEAM = [
    agent("python-pro", "Write idiomatic Python with type hints, asyncio and pytest."),
    agent("rust-pro", "Rust services with tokio; ownership and lifetimes."),
    agent("k8s-operator", "Operate Kubernetes clusters: pods, deployments, autoscaling."),
    agent("cpp-expert", "Modern C++ templates, RAII and move semantics."),
    agent("code-reviewer", "Reviews pull requests for bugs, security issues and style."),
    agent("technical-writer", "Writes user guides and API documentation."),
]


# --- tokenizer ---------------------------------------------------------------------------


def test_tech_words_survive_tokenizing():
    assert tokenize("C++ and C#") == ["cpp", "csharp"]
    assert tokenize(".NET, ASP.NET") == ["dotnet", "dotnet"]
    assert tokenize("Node.js") == tokenize("node")
    assert tokenize("k8s") == tokenize("Kubernetes")
    assert tokenize("JS TS py") == tokenize("JavaScript TypeScript Python")
    assert tokenize("CI/CD") == ["ci", "cd"]


def test_phrases_fold_into_their_abbreviation():
    assert tokenize("machine learning") == tokenize("ML")
    assert tokenize("large language models") == tokenize("LLM")
    assert tokenize("end-to-end") == tokenize("E2E")
    assert tokenize("T-SQL on SQL Server") == ["tsql", "mssql"]


def test_stop_words_and_light_stemming():
    assert tokenize("Please help me with the tests") == ["test"]
    assert len(set(tokenize("test tests testing tested tester"))) == 1
    assert tokenize("queries") == tokenize("query")
    assert tokenize("optimize optimizing optimization")[0] == tokenize("optimized")[0]


def test_template_references_in_a_task_prompt_are_ignored():
    assert tokenize("Summarise {{ tasks.research.output }} for {{ inputs.audience }}") == [
        "summariz"
    ]


def test_british_and_american_spellings_meet():
    assert tokenize("summarise") == tokenize("summarizer") == tokenize("summary")
    assert tokenize("optimising") == tokenize("optimizing")


def test_words_keep_what_the_user_typed():
    assert words("Fix our K8S pods") == [("fix", "fix"), ("k8s", "kubernet"), ("pods", "pod")]


# --- ranking -----------------------------------------------------------------------------


def test_best_agent_first_with_the_words_that_matched():
    index = AgentIndex.build(TEAM)
    best = index.match("our k8s pods keep getting evicted", top=3)[0]
    assert best.name == "k8s-operator"
    assert set(best.matched) == {"k8s", "pods"}
    assert best.file == str(Path("agents/k8s-operator.md"))
    assert index.match("refactor these C++ templates")[0].name == "cpp-expert"
    assert index.match("review my pull request")[0].name == "code-reviewer"


def test_matched_words_are_ordered_by_how_much_they_count():
    index = AgentIndex.build(TEAM)
    best = index.match("write python type hints")[0]
    assert best.name == "python-pro"
    assert best.matched[0] == "python"  # in the name and the description: counts most


def test_name_outweighs_a_prompt_that_mentions_the_word_often():
    index = AgentIndex.build(
        [
            agent("terraform-engineer", "Infrastructure modules and remote state."),
            agent("cloud-generalist", "Cloud work.", body="terraform " * 20),
        ]
    )
    assert [m.name for m in index.match("terraform")] == ["terraform-engineer", "cloud-generalist"]


def test_plugin_prefix_weighs_less_than_the_agent_name():
    # plugins/payments/agents/auditor.md named "payments-auditor": "payments" is the plugin.
    # Read as a plain name, both agents would tie and "payments-auditor" would sort first.
    prefixed = agent(
        "payments-auditor", "Checks ledgers.", path="plugins/payments/agents/auditor.md"
    )
    index = AgentIndex.build([prefixed, agent("payments-gateway", "Checks ledgers.")])
    found = index.match("payments")
    assert [m.name for m in found] == ["payments-gateway", "payments-auditor"]
    assert found[0].score > found[1].score


def test_equal_scores_are_ordered_by_name_whatever_the_input_order():
    twins = [agent(n, "Deploys containers to production.") for n in ("zeta", "alpha", "mid")]
    for agents in (twins, list(reversed(twins))):
        found = AgentIndex.build(agents).match("deploy containers")
        assert [m.name for m in found] == ["alpha", "mid", "zeta"]
        assert len({m.score for m in found}) == 1


def test_top_limits_and_nothing_matched():
    index = AgentIndex.build(TEAM)
    assert len(index.match("write docs and python code", top=2)) == 2
    assert index.match("python", top=0) == []
    assert index.match("bake a chocolate cake") == []
    assert AgentIndex.build([]).match("anything") == []


def test_description_boilerplate_and_handoffs_do_not_match():
    index = AgentIndex.build(
        [
            agent(
                "router-bait",
                "Use PROACTIVELY. MUST BE USED when you need it. <delegation>Target: "
                "kafka-expert</delegation> Tunes <example>cache</example> layers.",
            )
        ]
    )
    assert index.match("proactively use this when you must") == []
    assert index.match("kafka") == []
    assert index.match("cache")[0].name == "router-bait"  # tags go, their text stays


def test_same_input_same_output():
    first = AgentIndex.build(TEAM).match("python services in rust with tokio", top=6)
    assert AgentIndex.build(TEAM).match("python services in rust with tokio", top=6) == first


# --- weak matches ------------------------------------------------------------------------


def m(name: str, score: float) -> AgentMatch:
    return AgentMatch(name, score, f"{name}.md", ("word",))


def test_weak_when_nothing_low_or_a_near_tie():
    assert is_weak([])
    assert is_weak([m("a", WEAK_SCORE - 0.1)])
    assert "a (10)" in weak_reason([m("a", 10.0), m("b", 9.8)])
    assert not is_weak([m("a", 10.0), m("b", 7.0)])
    assert not is_weak([m("a", 10.0), m("a", 10.0), m("b", 7.0)])  # same name twice: no rival


def test_weak_on_off_topic_text_and_not_on_a_clear_task():
    index = AgentIndex.build(TEAM)
    assert is_weak(index.match("plan my wedding"))
    assert not is_weak(index.match("our kubernetes pods and deployments do not autoscale"))


def test_speed_smoke():
    # The benchmark measures properly; this only catches an accidental blow-up.
    many = [
        agent(f"agent-{i}", f"Topic {i} work on area{i % 37}", "text " * 400) for i in range(400)
    ]
    start = time.perf_counter()
    index = AgentIndex.build(many)
    assert time.perf_counter() - start < 5
    start = time.perf_counter()
    index.match("work on area7 topic 12 " * 20)
    assert time.perf_counter() - start < 0.5


# --- the command -------------------------------------------------------------------------


def write_agent(folder: Path, name: str, description: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(f"---\nname: {name}\ndescription: {description}\n---\nYou are {name}.\n")
    return path


def invoke(*args: str):
    app = typer.Typer()
    app.command()(match_command)
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    one, two = tmp_path / "one", tmp_path / "two"
    write_agent(one, "k8s-operator", "Operate Kubernetes clusters, pods and deployments.")
    write_agent(one, "technical-writer", "Writes user guides and API documentation.")
    write_agent(two, "k8s-operator", "A second copy that must not be matched.")
    write_agent(two, "python-pro", "Idiomatic Python with type hints.")
    return one, two


def test_match_json_best_first(folders):
    one, two = folders
    result = invoke("our k8s pods crash", "--dir", str(one), "--dir", str(two), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [set(entry) for entry in found] == [{"name", "score", "file", "matched"}] * len(found)
    assert found[0]["name"] == "k8s-operator"
    assert found[0]["file"] == str(one / "k8s-operator.md")  # the first of the name
    assert found[0]["matched"] == ["k8s", "pods"]
    assert [e["score"] for e in found] == sorted((e["score"] for e in found), reverse=True)


def test_match_table_and_duplicate_warning_once(folders):
    one, two = folders
    result = invoke("python type hints", "--dir", str(one), "--dir", str(two), "--top", "1")
    assert result.exit_code == 0
    assert "python-pro" in result.stdout and "k8s-operator" not in result.stdout
    assert "score" in result.stdout and "matched" in result.stdout
    assert result.stderr.count("skipped") == 1
    assert "defined twice" not in result.stderr


def test_match_warns_when_weak(folders):
    one, _ = folders
    result = invoke("plan my wedding", "--dir", str(one), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert "weak match" in result.stderr


def test_match_warns_about_a_near_tie_even_with_top_1(tmp_path):
    for name in ("deployer-a", "deployer-b"):
        write_agent(tmp_path, name, "Deploys containers to production clusters.")
    for other in TEAM:  # unrelated agents, so the shared words are rare enough to score
        write_agent(tmp_path, other.name, other.description)
    result = invoke(
        "deploy containers to production clusters", "--dir", str(tmp_path), "--top", "1"
    )
    assert result.exit_code == 0
    assert "deployer-a" in result.stdout and "deployer-b" not in result.stdout
    assert "weak match: deployer-a" in result.stderr and "deployer-b" in result.stderr


def test_missing_folder_is_exit_2(folders, tmp_path):
    one, _ = folders
    result = invoke("python", "--dir", str(one), "--dir", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_no_default_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("python")
    assert isinstance(result.exception, AgentflowError)  # main() turns it into exit 2
    assert int(result.exception.exit_code) == 2


def test_registered_as_agents_match(capsys, folders):
    from tests.cli_helpers import run_cli

    one, _ = folders
    result = run_cli(capsys, "agents", "match", "k8s pods", "--dir", str(one), "--json")
    assert result.code == 0 and result.json()[0]["name"] == "k8s-operator"


# --- the labelled query set and the corpus -----------------------------------------------


def load_queries() -> list[dict]:
    return [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]


def accepted(row: dict) -> set[str]:
    return set(row["agent"] if isinstance(row["agent"], list) else [row["agent"]])


def test_query_set_shape():
    rows = load_queries()
    assert len(rows) >= 120
    assert all(set(row) == {"query", "agent", "file"} for row in rows)
    verbatim = sum(any(n.lower() in row["query"].lower() for n in accepted(row)) for row in rows)
    assert verbatim <= 0.3 * len(rows)
    assert len({row["file"].split("/")[0] for row in rows}) >= 5  # every repo of the corpus


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/agent-corpus is not present")
def test_corpus_top3_accuracy():
    loaded = discover_agents([CORPUS]).loaded
    assert len(loaded) == 400
    names_by_file = {str(a.path.relative_to(CORPUS)): a.name for a in loaded}
    rows = load_queries()
    for row in rows:  # every label names a real agent, and `file` is one of them
        assert names_by_file[row["file"]] in accepted(row), row
        assert accepted(row) <= set(names_by_file.values()), row
    index = AgentIndex.build(loaded)
    hits = sum(bool(accepted(r) & {m.name for m in index.match(r["query"], 3)}) for r in rows)
    assert hits / len(rows) >= 0.85
