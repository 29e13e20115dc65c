"""`model: auto` tier analysis: realistic prompts per tier, edge cases, determinism, speed."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentflow.routing.tiers import DEFAULT_TIER_MODELS, TierDecision, classify_task

ROOT = Path(__file__).resolve().parents[2]

VERDICT_SCHEMA = {
    "type": "object",
    "required": ["verdict", "blocking"],
    "properties": {
        "verdict": {"type": "string", "enum": ["approve", "request-changes"]},
        "blocking": {"type": "array", "items": {"type": "string"}},
    },
}
INVOICE_SCHEMA = {
    "type": "object",
    "properties": {
        "number": {"type": "string"},
        "date": {"type": "string"},
        "total": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
    },
}
LABEL_SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["bug", "feature-request", "question"]}},
}

RATE_LIMITER_SPEC = """You are designing the rate limiter for our public API gateway.
Requirements:
1. Limits per API key and per IP, configurable per route.
2. Must survive the loss of any single Redis node without letting traffic through unlimited.
3. At most 2 ms of added latency at p99.
4. Bursts of up to 3x the rate for 10 seconds must be allowed.
5. Limits must be changeable without a deploy.
6. Every rejection must carry a retry-after header.
Which algorithm fits (token bucket, sliding window, GCRA)? How do gateways share state?
What happens during a network partition? What do we monitor?
"""

# (id, prompt, kwargs, expected tier). kwargs override: agent_model=None, no schema,
# max_tokens=1024. Agents here have no model of their own (that is when `auto` applies).
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # --- simple ---------------------------------------------------------------------------
    (
        "extract-invoice",
        "Extract the invoice number, date, total and currency from this email.\n\n"
        "{{ inputs.email }}",
        {"output_schema": INVOICE_SCHEMA},
        "simple",
    ),
    (
        "classify-ticket",
        "Classify this support ticket as bug, feature-request or question. "
        "Reply with the label only.\n{{ inputs.ticket }}",
        {"output_schema": LABEL_SCHEMA, "max_tokens": 50},
        "simple",
    ),
    (
        "translate",
        "Translate the following release announcement into German, keeping product names "
        "in English: {{ tasks.final.output }}",
        {},
        "simple",
    ),
    (
        "summarize-transcript",
        "Summarize this meeting transcript in five bullet points with owners and dates.\n"
        "{{ inputs.transcript }}",
        {},
        "simple",
    ),
    (
        "convert-csv",
        "Convert this CSV of users into JSON objects with the keys name, email and role.\n"
        "{{ inputs.csv }}",
        {},
        "simple",
    ),
    (
        "fix-typos",
        "Fix typos and grammar in this paragraph; change nothing else.\n{{ inputs.text }}",
        {},
        "simple",
    ),
    (
        "list-todos",
        "List every TODO comment in this file with its line number.\n{{ inputs.source }}",
        {},
        "simple",
    ),
    (
        "yes-no",
        "Is this log line an error? Answer yes or no.\n{{ inputs.line }}",
        {"max_tokens": 10},
        "simple",
    ),
    (
        "rename",
        "Rename the variables in this snippet to snake_case. Return only the code.\n"
        "{{ inputs.snippet }}",
        {},
        "simple",
    ),
    (
        "count-fixes",
        "Count how many entries in this changelog are fixes: {{ tasks.changes.json.entries }}",
        {"max_tokens": 20},
        "simple",
    ),
    (
        "tag-sentiment",
        "Tag each customer review with its sentiment (positive, negative or neutral).\n"
        "{{ inputs.reviews }}",
        {"output_schema": {"type": "array", "items": {"enum": ["pos", "neg", "neutral"]}}},
        "simple",
    ),
    (
        "commit-message",
        "Write a one-line commit message for this diff.\n{{ inputs.diff }}",
        {"max_tokens": 100},
        "simple",
    ),
    # --- standard -------------------------------------------------------------------------
    (
        "write-function",
        "Write a Python function `parse_duration(text)` that accepts strings like '1h30m' and "
        "returns seconds. Include unit tests with pytest.",
        {},
        "standard",
    ),
    (
        "review-pr",
        "Review this pull request for bugs, unclear naming and missing tests. Cite file and "
        "line for each finding.\n{{ inputs.diff }}",
        {},
        "standard",
    ),
    (
        "draft-readme",
        "Draft a README section explaining how to configure retries and timeouts, with an "
        "example workflow file.",
        {"max_tokens": 2000},
        "standard",
    ),
    (
        "explain-sql",
        "Explain what this SQL query does and suggest an index that would speed it up.\n"
        "{{ inputs.query }}",
        {},
        "standard",
    ),
    (
        "implement-pagination",
        "Implement cursor pagination for the /orders endpoint, following the pattern already "
        "used by /users.\n{{ inputs.code }}",
        {"max_tokens": 3000},
        "standard",
    ),
    (
        "unit-tests",
        "Write unit tests for `Budget.reserve` covering the happy path, an exact fit and an "
        "over-budget request.\n{{ inputs.source }}",
        {},
        "standard",
    ),
    (
        "debug-test",
        "Debug this failing test. Here is the traceback and the function under test; "
        "suggest a fix.\n{{ inputs.traceback }}\n{{ inputs.source }}",
        {},
        "standard",
    ),
    (
        "merge-reviews",
        "Merge these three reviews into one verdict with the blocking issues first.\n"
        "Security: {{ tasks.security.output }}\nDesign: {{ tasks.design.output }}\n"
        "Correctness: {{ tasks.correctness.output }}",
        {"output_schema": VERDICT_SCHEMA},
        "standard",
    ),
    (
        "migration-guide",
        "Write a migration guide for users upgrading from v1 to v2 of the config format, "
        "with before and after examples for each change.\n{{ tasks.changes.output }}",
        {"max_tokens": 2000},
        "standard",
    ),
    (
        "rewrite-handler",
        "Rewrite this error handler so that every error message includes the file and line. "
        "Keep the public API unchanged.\n{{ inputs.source }}",
        {},
        "standard",
    ),
    # --- complex --------------------------------------------------------------------------
    (
        "design-sharding",
        "Design a sharding scheme for the orders table (2 TB, 40k writes/s). Compare at least "
        "two options, name the trade-offs, and give a migration plan with rollback at each "
        "step.",
        {"max_tokens": 4000},
        "complex",
    ),
    (
        "audit-auth",
        "Audit this authentication module for security vulnerabilities: session fixation, "
        "token leakage, timing attacks. Rank findings by severity.\n{{ inputs.source }}",
        {},
        "complex",
    ),
    (
        "prove-scheduler",
        "Prove that the scheduler never starts a task before all of its needs have "
        "succeeded, stating the invariants you rely on.\n{{ inputs.scheduler }}",
        {},
        "complex",
    ),
    (
        "threat-model",
        "Produce a threat model for the file upload service: assets, entry points, attackers "
        "and mitigations.\n{{ inputs.architecture }}",
        {},
        "complex",
    ),
    (
        "root-cause",
        "Find the root cause of the intermittent 502s in these logs and the incident "
        "timeline; separate evidence from hypotheses.\n{{ inputs.logs }}\n"
        "{{ tasks.timeline.output }}",
        {},
        "complex",
    ),
    (
        "plan-migration",
        "Plan the migration of the billing module out of the monolith into its own service: "
        "order of steps, data backfill, dual writes, cutover and rollback.",
        {},
        "complex",
    ),
    (
        "optimise-algorithm",
        "Optimise the algorithm in `match_orders` from O(n^2) to something that scales to "
        "10M orders; explain its time complexity.\n{{ inputs.source }}",
        {},
        "complex",
    ),
    (
        "research-retries",
        "Research how Airflow, Temporal and Prefect handle retries of tasks with side "
        "effects, and recommend an approach for agentflow with its trade-offs.",
        {"max_tokens": 4000},
        "complex",
    ),
    (
        "refactor-persistence",
        "Refactor the entire persistence layer to the repository pattern with identical "
        "behaviour; give the steps and the risks of each.\n{{ inputs.source }}",
        {},
        "complex",
    ),
    ("rate-limiter-spec", RATE_LIMITER_SPEC, {"max_tokens": 6000}, "complex"),
    (
        "distributed-lock",
        "Review this distributed lock for race conditions and deadlocks under network "
        "partitions.\n{{ inputs.source }}",
        {},
        "complex",
    ),
]


# Prompts written after the weights were first set, in four rounds, to measure the analysis on
# text it was not tuned for. Accuracy on each fresh round before any tuning on it: 10/18, 7/18,
# 13/18, 12/18; the vocabulary was then widened. What still fails is listed in KNOWN_MISSES:
# the analysis reads words, not meaning, so paraphrases it has no word for fall to standard.
# (prompt, max_tokens, expected tier)
HELD_OUT: list[tuple[str, int, str]] = [
    (
        "Pull the order id, customer name and shipping address out of this email as JSON. {{ "
        "inputs.email }}",
        1024,
        "simple",
    ),
    (
        "Give each bug report below a priority label: P0, P1, P2 or P3. {{ inputs.reports }}",
        1024,
        "simple",
    ),
    (
        "Turn these meeting notes into a Markdown table with columns owner, action, due date."
        " {{ tasks.notes.output }}",
        1024,
        "simple",
    ),
    (
        "Which programming language is this snippet written in? Reply with one word. {{ "
        "inputs.snippet }}",
        10,
        "simple",
    ),
    (
        "Shorten this product description to under 50 words. {{ inputs.description }}",
        1024,
        "simple",
    ),
    (
        "Detect the language of each customer message and return ISO codes. {{ inputs.messages }}",
        1024,
        "simple",
    ),
    (
        "Write a Bash script that backs up the Postgres database nightly and keeps 7 days of "
        "dumps.",
        1024,
        "standard",
    ),
    (
        "Add type hints to this module and fix any mypy errors. {{ inputs.source }}",
        1024,
        "standard",
    ),
    (
        "Answer the user's question using the documentation excerpt below, citing the "
        "section. Question: {{ inputs.question }} Docs: {{ tasks.search.output }}",
        1024,
        "standard",
    ),
    (
        "Create a REST endpoint in Flask that returns the current user's orders, with pagination.",
        1024,
        "standard",
    ),
    (
        "Write the onboarding guide for new contributors: setup, running tests, and the "
        "release process.",
        3000,
        "standard",
    ),
    (
        "Check this Terraform plan for resources that will be destroyed and explain the "
        "impact. {{ inputs.plan }}",
        1024,
        "standard",
    ),
    (
        "Decide whether we should move from REST to gRPC for internal services; weigh "
        "latency, tooling, team skills and migration cost, and recommend.",
        4000,
        "complex",
    ),
    (
        "Find why the payment reconciliation job double-counts refunds across time zones; the"
        " logs and code are below. {{ inputs.logs }} {{ inputs.code }}",
        1024,
        "complex",
    ),
    (
        "Specify a consistency model for our offline-first mobile sync and show how conflicts"
        " resolve under concurrent edits.",
        4000,
        "complex",
    ),
    (
        "Review the IAM policies below for privilege escalation paths and overly broad "
        "permissions. {{ inputs.policies }}",
        1024,
        "complex",
    ),
    (
        "Propose a data model for multi-tenant billing with usage-based pricing, proration "
        "and invoices, with the trade-offs of each choice.",
        4000,
        "complex",
    ),
    (
        "Come up with an algorithm to schedule 10,000 jobs on 50 machines minimising makespan"
        " with precedence constraints, and argue its correctness.",
        4000,
        "complex",
    ),
    (
        "From the attached job posting, return the title, salary range and location. {{ "
        "inputs.posting }}",
        1024,
        "simple",
    ),
    (
        "Put these 40 product names in alphabetical order and remove duplicates. {{ "
        "inputs.names }}",
        1024,
        "simple",
    ),
    ("Is the following review positive or negative? {{ inputs.review }}", 5, "simple"),
    (
        "Give me a title of at most eight words for this blog post. {{ tasks.draft.output }}",
        30,
        "simple",
    ),
    (
        "Map each free-text country name below to its ISO 3166 alpha-2 code. {{ "
        "inputs.countries }}",
        1024,
        "simple",
    ),
    (
        "Make a bullet list of the action items in this email thread. {{ inputs.thread }}",
        1024,
        "simple",
    ),
    (
        "Write a SQL query that returns the top 10 customers by revenue in the last 90 days, "
        "given this schema. {{ inputs.schema }}",
        1024,
        "standard",
    ),
    (
        "Explain this stack trace to a junior developer and suggest where to start looking. "
        "{{ inputs.trace }}",
        1024,
        "standard",
    ),
    (
        "Draft a polite reply to this customer complaint offering a refund. {{ inputs.complaint }}",
        1024,
        "standard",
    ),
    (
        "Port this Python function to TypeScript, keeping the same behaviour and tests. {{ "
        "inputs.source }}",
        1024,
        "standard",
    ),
    (
        "Write the changelog entry and the upgrade notes for this pull request. {{ inputs.pr }}",
        1024,
        "standard",
    ),
    (
        "Add input validation and error messages to this CLI command. {{ inputs.source }}",
        1024,
        "standard",
    ),
    (
        "Model the attack paths an insider could use to exfiltrate customer data from our "
        "data warehouse, and prioritise controls.",
        4000,
        "complex",
    ),
    (
        "Work out a sharding and replication strategy for a chat service with 50M daily "
        "users, covering hot partitions and cross-region failover.",
        4000,
        "complex",
    ),
    (
        "Verify that this lock-free queue is linearizable, or give a counterexample "
        "interleaving. {{ inputs.source }}",
        1024,
        "complex",
    ),
    (
        "Our p99 latency doubled after the last deploy; using these traces, the diff and the "
        "metrics, determine the cause and propose a fix. {{ inputs.traces }} {{ inputs.diff "
        "}} {{ tasks.metrics.output }}",
        1024,
        "complex",
    ),
    (
        "Evaluate three approaches to schema evolution for our event store (upcasting, "
        "versioned topics, copy-transform) against our constraints, and pick one.",
        4000,
        "complex",
    ),
    (
        "Break this monolith into services: identify bounded contexts, data ownership, and "
        "the order to extract them without downtime. {{ inputs.overview }}",
        6000,
        "complex",
    ),
    (
        "Pick out every date mentioned in this contract and normalise it to YYYY-MM-DD. {{ "
        "inputs.contract }}",
        1024,
        "simple",
    ),
    (
        "Does this commit message follow the Conventional Commits format? {{ inputs.message }}",
        20,
        "simple",
    ),
    (
        "Split this address into street, city, postcode and country fields. {{ inputs.address }}",
        1024,
        "simple",
    ),
    ("Reword this sentence to sound less formal: {{ inputs.sentence }}", 100, "simple"),
    (
        "Summarize the postmortem below in three bullet points for the weekly newsletter. {{ "
        "tasks.postmortem.output }}",
        1024,
        "simple",
    ),
    (
        "Which of these log lines are warnings? Return their line numbers. {{ inputs.log }}",
        1024,
        "simple",
    ),
    (
        "Write unit tests for the retry strategy in this module. {{ inputs.source }}",
        1024,
        "standard",
    ),
    (
        "Explain the architecture diagram below to a new hire in plain words. {{ inputs.diagram }}",
        1024,
        "standard",
    ),
    (
        "Refactor this function to remove the duplicated branches and add docstrings. {{ "
        "inputs.source }}",
        1024,
        "standard",
    ),
    (
        "Write a GitHub Actions workflow that runs the tests on Python 3.11 and 3.12 and "
        "uploads coverage.",
        1024,
        "standard",
    ),
    (
        "Turn these bullet points into a friendly blog post of about 600 words. {{ "
        "tasks.outline.output }}",
        1500,
        "standard",
    ),
    (
        "Review this Dockerfile and suggest changes that make the image smaller. {{ "
        "inputs.dockerfile }}",
        1024,
        "standard",
    ),
    (
        "Prove or disprove: the merge step is associative for all inputs, given this "
        "definition. {{ inputs.definition }}",
        1024,
        "complex",
    ),
    (
        "Given the incident timeline, the logs and the config diff, figure out why the "
        "cluster lost quorum and how to prevent it. {{ tasks.timeline.output }} {{ "
        "inputs.logs }} {{ inputs.diff }}",
        3000,
        "complex",
    ),
    (
        "Design the permission system for a document editor with sharing, groups, inheritance"
        " and audit logging.",
        4000,
        "complex",
    ),
    (
        "Assess the cryptographic design of this token scheme: key rotation, replay "
        "protection and forward secrecy. {{ inputs.spec }}",
        1024,
        "complex",
    ),
    (
        "Plan a zero-downtime migration from MySQL to Postgres for a 3 TB database with heavy"
        " writes, including validation and rollback.",
        4000,
        "complex",
    ),
    (
        "Analyse the competitive landscape and propose a pricing strategy for our API across "
        "three customer segments.",
        4000,
        "complex",
    ),
    (
        "Get the phone numbers and email addresses from these signatures as a JSON list. {{ "
        "inputs.signatures }}",
        1024,
        "simple",
    ),
    (
        "Mark each FAQ answer below as outdated or current based on the release notes. {{ "
        "inputs.faq }} {{ tasks.notes.output }}",
        1024,
        "simple",
    ),
    ("Give the French name for each of these menu items. {{ inputs.menu }}", 1024, "simple"),
    ("Count the words in each paragraph and return the totals. {{ inputs.text }}", 1024, "simple"),
    (
        "Clean up the capitalisation and punctuation of these headings. {{ inputs.headings }}",
        1024,
        "simple",
    ),
    (
        "What is the invoice total in this PDF text? Reply with the number only. {{ inputs.pdf }}",
        20,
        "simple",
    ),
    (
        "Write a Python class that wraps the Stripe API client with retries and logging.",
        1024,
        "standard",
    ),
    (
        "Update the README's install section for the new pip package name. {{ inputs.readme }}",
        1024,
        "standard",
    ),
    (
        "Suggest five better names for this function and explain each briefly. {{ inputs.source }}",
        1024,
        "standard",
    ),
    (
        "Convert this callback-based Node.js module to async/await and keep its public API. "
        "{{ inputs.source }}",
        3000,
        "standard",
    ),
    (
        "Write a FAQ for the new billing page from the spec below. {{ inputs.spec }}",
        2000,
        "standard",
    ),
    (
        "Read the failing CI log and say which test failed and the likely reason. {{ inputs.log }}",
        1024,
        "standard",
    ),
    (
        "Produce a capacity plan for Black Friday: expected peak load, which services "
        "saturate first, and what to scale ahead of time. {{ inputs.metrics }}",
        4000,
        "complex",
    ),
    (
        "Audit our OAuth flow for token leakage and CSRF; list each finding with severity and"
        " a fix. {{ inputs.flow }}",
        1024,
        "complex",
    ),
    (
        "Derive the expected number of retries under this backoff policy and prove the bound "
        "is tight. {{ inputs.policy }}",
        1024,
        "complex",
    ),
    (
        "Redesign the event pipeline so that late events are handled exactly once across "
        "region failover. {{ inputs.current_design }}",
        4000,
        "complex",
    ),
    (
        "Compare CRDTs and operational transforms for our collaborative editor and recommend "
        "one, with the trade-offs for offline editing.",
        4000,
        "complex",
    ),
    (
        "Find the memory leak in this long-running worker from the heap snapshots and code. "
        "{{ inputs.snapshots }} {{ inputs.code }}",
        1024,
        "complex",
    ),
]
KNOWN_MISSES = {  # how a held-out prompt starts -> why it is misread
    "Find why the payment": "complex read as standard: 'double-counts' reads as counting",
    "Split this address": "simple read as standard: no word for splitting into fields",
    "Analyse the competitive": "complex read as standard: 'propose' mid-sentence is a mention",
    "Give the French name": "simple read as standard: translation without the word",
    "Derive the expected": "complex read as standard: 'and prove' mid-sentence is a mention",
}
TIER_ORDER = {"simple": 0, "standard": 1, "complex": 2}


def classify(prompt: str, **overrides: Any) -> TierDecision:
    kwargs: dict[str, Any] = {"agent_model": None, "has_output_schema": False, "max_tokens": 1024}
    kwargs.update(overrides)
    if kwargs.get("output_schema") is not None:
        kwargs["has_output_schema"] = True
    return classify_task(prompt, **kwargs)


@pytest.mark.parametrize(
    ("prompt", "kwargs", "tier"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_realistic_prompts_get_the_expected_tier(prompt: str, kwargs: dict, tier: str) -> None:
    decision = classify(prompt, **kwargs)
    assert decision.tier == tier, (decision.reason, decision.signals)
    assert decision.reason.startswith(f"{tier}: ")
    assert decision.signals


def test_the_table_covers_every_tier_at_least_ten_times() -> None:
    for tier in DEFAULT_TIER_MODELS:
        assert sum(c[3] == tier for c in CASES) >= 10


def test_default_tier_models() -> None:
    assert DEFAULT_TIER_MODELS == {"simple": "haiku", "standard": "sonnet", "complex": "opus"}


def test_reason_names_the_strongest_signals() -> None:
    decision = classify(
        "Extract the invoice number and total from this email. {{ inputs.email }}",
        output_schema=INVOICE_SCHEMA,
    )
    assert decision.tier == "simple"
    assert "extraction" in decision.reason and "closed output schema" in decision.reason
    assert any(s.startswith("closed output schema") for s in decision.signals)


def test_templates_count_as_upstream_reads_not_text() -> None:
    # Braces and template words must not be read as work: "design" and "format" below are
    # task ids, and the output references are context to reconcile.
    prompt = "Merge: {{ tasks.design.output }} {{ tasks.format.output }} {{ tasks.audit.output }}"
    decision = classify(prompt)
    assert any(s.startswith("reads 3 upstream outputs") for s in decision.signals)
    assert not any("design" in s or "format" in s or "audit" in s for s in decision.signals)
    plain = classify("Merge these notes.")
    assert decision.score > plain.score


def test_empty_and_tiny_prompts_are_standard_with_a_reason() -> None:
    for prompt in ("", "   ", "Go.", "{{ inputs.text }}"):
        decision = classify(prompt)
        assert decision.tier == "standard", prompt
        assert decision.reason.startswith("standard: ")


def test_huge_prompts() -> None:
    filler = "The service handles uploads from many tenants with different quotas. " * 600
    design = classify("Design the storage architecture for this service.\n" + filler)
    assert design.tier == "complex"
    assert any("-token prompt +" in s for s in design.signals)  # length pushed up
    extract = classify(
        "Extract every email address from this document.\n" + filler,
        output_schema={"type": "array", "items": {"type": "string", "format": "email"}},
    )
    assert extract.tier != "complex"  # length alone must not make extraction complex


@pytest.mark.parametrize(
    ("prompt", "tier"),
    [
        (
            "Do not redesign anything, just format this config as YAML. {{ inputs.config }}",
            "simple",
        ),
        ("Don't rewrite the module; only fix the typos in its docstrings.", "simple"),
        ("Do not just summarise it: audit this service for security flaws.", "complex"),
        ("Without changing the architecture, convert these settings to TOML.", "simple"),
    ],
)
def test_negated_work_is_not_asked_for(prompt: str, tier: str) -> None:
    decision = classify(prompt)
    assert decision.tier == tier, (decision.reason, decision.signals)


def test_mixed_signals_meet_in_the_middle() -> None:
    # A simple verb over a hard topic: neither haiku-easy nor opus-hard.
    for prompt in (
        "Summarize the threat model below for the release checklist. {{ inputs.model }}",
        "List the trade-offs between Postgres and DynamoDB for this workload.",
        "Format the design document below as Markdown with numbered headings.",
    ):
        decision = classify(prompt)
        assert decision.tier != "complex", (prompt, decision.signals)
    # ... while "format the design doc" stays formatting, not design work.
    decision = classify("Format the design document below as Markdown. {{ inputs.doc }}")
    assert decision.tier == "simple" and "formatting" in decision.reason


def test_section_labels_are_not_work() -> None:
    with_labels = classify("Security: {{ tasks.a.output }}\nDesign: {{ tasks.b.output }}")
    assert not any("security" in s or "design" in s for s in with_labels.signals)


def test_agent_model_is_a_prior() -> None:
    prompt = "Write release notes from these entries: {{ tasks.changes.json.entries }}"
    base = classify(prompt)
    assert classify(prompt, agent_model="inherit").score == base.score
    assert classify(prompt, agent_model="haiku").score < base.score
    assert (
        classify(prompt, agent_model="claude-haiku-4-5").score
        == classify(prompt, agent_model="haiku").score
    )
    assert classify(prompt, agent_model="claude-opus-4-1").score > base.score
    sonnet = classify(prompt, agent_model="sonnet")
    assert sonnet.score == base.score and any("sonnet" in s for s in sonnet.signals)


def test_agent_description_is_a_weaker_hint() -> None:
    prompt = "For the entries below, say what users must do. {{ tasks.changes.json.entries }}"
    auditor = "Audits code and configuration for security weaknesses."
    summarizer = "Condenses long text into a short summary."
    hinted_up = classify(prompt, agent_description=auditor)
    hinted_down = classify(prompt, agent_description=summarizer)
    assert hinted_down.score < classify(prompt).score < hinted_up.score
    # The prompt's own verb outweighs the description.
    extraction = classify("Extract the dates. {{ inputs.text }}", agent_description=auditor)
    assert extraction.tier != "complex"


def test_output_schema_and_max_tokens() -> None:
    prompt = "Review this change for bugs. {{ inputs.diff }}"
    free = classify(prompt)
    closed = classify(prompt, output_schema=VERDICT_SCHEMA)
    bare = classify(prompt, has_output_schema=True)  # schema not given: a milder push
    assert closed.score < bare.score < free.score
    assert (
        classify(prompt, max_tokens=100).score
        < free.score
        < classify(prompt, max_tokens=8000).score
    )


def test_structure_pushes_up() -> None:
    flat = classify("Write a caching layer for the price lookup.")
    structured = classify(
        "Write a caching layer for the price lookup.\n1. Entries must expire after 5 min.\n"
        "2. Must not serve stale prices after an update.\n3. At most 10k entries.\n"
        "Is write-through better here? What about cold starts?"
    )
    assert structured.score > flat.score
    assert any("listed requirements" in s for s in structured.signals)
    assert any("constraints" in s for s in structured.signals)


def test_held_out_prompts() -> None:
    misses = []
    for prompt, max_tokens, tier in HELD_OUT:
        decision = classify(prompt, max_tokens=max_tokens)
        # Never two tiers off: a misread task costs a tier, it does not jump haiku <-> opus.
        assert abs(TIER_ORDER[decision.tier] - TIER_ORDER[tier]) <= 1, (prompt, decision)
        if decision.tier != tier:
            misses.append(prompt)
            print(f"\nmiss ({tier} -> {decision.tier}): {prompt[:70]}  [{decision.reason}]")
    assert set(misses) == {p for p, _, _ in HELD_OUT if p.startswith(tuple(KNOWN_MISSES))}
    print(f"\nheld-out accuracy: {len(HELD_OUT) - len(misses)}/{len(HELD_OUT)}")


def test_decisions_are_deterministic() -> None:
    for _, prompt, kwargs, _ in CASES:
        assert classify(prompt, **kwargs) == classify(prompt, **kwargs)


def _generated_prompts(count: int) -> list[str]:
    """Prompts shaped like workflow tasks: a verb, an object, a qualifier, references."""
    rng = random.Random(7)
    verbs = [
        "Extract",
        "Classify",
        "Summarize",
        "Review",
        "Write",
        "Draft",
        "Design",
        "Audit",
        "Explain",
        "Translate",
        "Plan the migration of",
        "Find the root cause of",
    ]
    objects = [
        "the invoice below",
        "this pull request",
        "the session handling code",
        "the onboarding guide",
        "our billing service",
        "these support tickets",
    ]
    extras = [
        "",
        " in one paragraph",
        " and list the risks",
        "; do not change the API",
        ", with the trade-offs of each option",
        " as JSON",
        "? Answer yes or no",
    ]
    refs = ["", " {{ inputs.text }}", " {{ tasks.prev.output }}", " {{ tasks.a.json.items }}"]
    return [
        f"{rng.choice(verbs)} {rng.choice(objects)}{rng.choice(extras)}.{rng.choice(refs)}"
        + " Keep names and figures exactly as written." * rng.randint(0, 3)
        for _ in range(count)
    ]


def test_speed_of_ten_thousand_prompts() -> None:
    prompts = _generated_prompts(10_000)
    kwargs: dict[str, Any] = {"agent_model": None, "has_output_schema": False, "max_tokens": 1024}
    classify_task(prompts[0], **kwargs)  # warm up
    start = time.perf_counter()
    tiers = [classify_task(p, **kwargs).tier for p in prompts]
    elapsed = time.perf_counter() - start
    print(f"\nclassified {len(prompts)} prompts in {elapsed:.3f} s")  # reported, not asserted
    assert set(tiers) <= set(DEFAULT_TIER_MODELS)


def _agent(name: str | None) -> tuple[str | None, str]:
    """(model, description) from the repo's agent file, read without the full loader."""
    path = ROOT / "agents" / f"{name or ''}.md"
    if not name or not path.is_file():  # no agent, or `agent: auto` (chosen elsewhere)
        return None, ""
    text = path.read_text()
    front = yaml.safe_load(text.split("---")[1])
    return front.get("model"), front.get("description", "")


def _workflow_tasks() -> list[tuple[str, str, dict]]:
    tasks = []
    for path in sorted((ROOT / "workflows").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        defaults = data.get("defaults") or {}
        for task_id, task in data["tasks"].items():
            tasks.append((path.stem, task_id, {**defaults, **task}))
    return tasks


@pytest.mark.parametrize(
    ("workflow", "task_id", "task"),
    _workflow_tasks(),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_repo_workflow_task_gets_a_decision(workflow: str, task_id: str, task: dict) -> None:
    model, description = _agent(task.get("agent"))
    decision = classify_task(
        task["prompt"],
        agent_model=model,
        agent_description=description,
        has_output_schema="output_schema" in task,
        max_tokens=task.get("max_tokens", 1024),
        output_schema=task.get("output_schema"),
    )
    assert decision.tier in DEFAULT_TIER_MODELS
    assert decision.reason.strip() and decision.reason.startswith(decision.tier)
    print(f"{workflow}:{task_id}: {decision.reason} (score {decision.score})")
