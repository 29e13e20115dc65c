"""Pick agents for a task by its text: BM25F over agent names, descriptions and prompts.

Offline and deterministic: no model, no network, the same ranking on every machine. An agent
is one document with weighted fields: its name (the strongest signal: people name agents by
what they do), a namespace prefix (plugin collections name agents `plugin-agent`), the
description, and the head of its system prompt (rich vocabulary, but long and generic, so it
weighs little). Field term frequencies are length-normalised and weighted before BM25's
saturation (BM25F), so a word in the name counts more than the same word in the prompt.
Tools are not indexed: Read/Write/Bash say nothing about what an agent is for, and "bash"
would pull shell tasks towards every agent allowed to run commands.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from agentflow.spec.agents import Agent


@dataclass(frozen=True)
class AgentMatch:
    name: str
    score: float
    file: str
    matched: tuple[str, ...]  # the task's words that matched, most telling first


@dataclass(frozen=True)
class Params:
    """Ranking knobs; chosen on the even lines of benchmarks/data/agent_queries.jsonl."""

    k1: float = 1.5
    weights: tuple[float, float, float, float] = (4.0, 1.0, 1.0, 0.15)  # name, ns, desc, body
    b: tuple[float, float, float, float] = (0.5, 0.5, 0.75, 0.75)
    body_chars: int = 3000  # the head of a prompt says what the agent is for; the rest is how


# See is_weak for what these mean and how they were chosen.
WEAK_SCORE = 5.0
WEAK_GAP = 0.05

FIELDS = ("name", "namespace", "description", "body")

# Request filler, and words every agent description uses about itself ("expert in").
_STOP_WORDS = """a an the and or but if then else of to in on at by for with from into onto over
    under about as is are was were be been being it its this that these those there here we our
    us you your i me my they them their he she his her what which who whom whose why how when
    where all any both each few more most other some such no nor not only own same so than too
    very can will just should would could may might must do does did doing done have has had
    having get gets got make makes also via per etc eg ie please help want wants need needs like
    using use used uses let lets one ones whole every keep way out up off expert experts
    expertise specialist specialists specializing specializes specialized specialised master
    masters mastering pro elite senior proactively invoke invoked comprehensive modern advanced"""
_STOP = frozenset(_STOP_WORDS.split())
# Claude Code descriptions are written for the router: "Use this agent when...", "MUST BE
# USED", "Triggers on:". The phrases go; the words are ordinary and stay elsewhere.
_BOILERPLATE = re.compile(
    r"use (?:this agent|it|this|when|for)|must be used|invoke this agent|use proactively"
    r"|(?:when|whenever) (?:you|the user)|triggers on"
)
_TAG = re.compile(r"<[^>]+>")
_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)
_HANDOFF = re.compile(r"<(delegation|commentary)>.*?</\1>", re.S)  # names of other agents
# One findall keeps the tech words a split on non-alphanumerics would mangle: c++, c#, .net,
# node.js. (A regex pass per special form was most of the index build time.)
_TOKEN = re.compile(r"[a-z0-9]+(?:\+\+|#)?(?:\.js\b|\.net\b)?|\.net\b")
_SYMBOLIC = {"c++": "cpp", "c#": "csharp", "f#": "fsharp", ".net": "dotnet", "asp.net": "dotnet"}
# Abbreviations and spellings folded into one term, on both sides of a match.
_ALIAS_PAIRS = """js=javascript ecmascript=javascript ts=typescript py=python k8s=kubernetes
    kube=kubernetes db=database dbs=database golang=go postgresql=postgres psql=postgres
    pg=postgres mongo=mongodb nodejs=node vuejs=vue reactjs=react nextjs=next
    a11y=accessibility i18n=internationalization perf=performance infra=infrastructure
    repo=repository config=configuration docs=documentation doc=documentation prod=production
    auth=authentication authn=authentication vuln=vulnerability vulns=vulnerability
    deps=dependency env=environment llms=llm apis=api gh=github cicd=ci devsecops=security
    summary=summarize summaries=summarize tldr=summarize"""
_ALIASES = dict(pair.split("=") for pair in _ALIAS_PAIRS.split())
# Phrases folded into their usual abbreviation, so "machine learning" meets "ML".
_PHRASE_LIST = """machine learning=ml; artificial intelligence=ai; large language models=llm;
    large language model=llm; natural language processing=nlp; infrastructure as code=iac;
    end to end=e2e; user experience=ux; user interfaces=ui; user interface=ui;
    sql servers=mssql; sql server=mssql; t sql=tsql"""
_PHRASES: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _line in _PHRASE_LIST.split(";"):
    _phrase, _abbreviation = _line.split("=")
    _first, *_rest = _phrase.split()
    _PHRASES.setdefault(_first, []).append((tuple(_rest), _abbreviation.strip()))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light suffix stripping (plurals, -ing, -ed, -er, -ation, final e); both sides alike."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ization", "iz"), ("isation", "iz")):
        if word.endswith(suffix):
            return word[: -len(suffix)] + repl
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for british in ("ise", "ised", "ising", "iser"):  # summarise meets summarize
        if word.endswith(british) and len(word) > len(british) + 3:
            word = word[: -len(british)] + "iz" + british[2:]
            break
    for suffix in ("ing", "ation", "ed", "er"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # running -> run, but keep "install", "process"
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


@lru_cache(maxsize=131072)
def _term(word: str) -> str | None:
    """The term for one raw word, or None for stop words and stray characters."""
    if word.endswith(".js"):
        word = word[:-3] + "js"
    term = _SYMBOLIC.get(word) or word.rstrip("+#").removesuffix(".net")
    if term in _STOP or (len(term) < 2 and not term.isdigit()):
        return None
    return stem(_ALIASES.get(term, term))


def _raw(text: str) -> list[str]:
    low = text.lower()
    if "{{" in low:  # a task prompt's template references ("tasks.x.output") are not its topic
        low = _TEMPLATE.sub(" ", low)
    return _TOKEN.findall(_TAG.sub(" ", low) if "<" in low else low)


def _phrase_spans(raw: list[str], present: Iterable[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) of each phrase in `raw` that folds into one term, left to right.

    `present` is the set of distinct words in `raw`: phrases whose first two words do not
    both occur are ruled out without walking the words at all.
    """
    starts = {w for w in _PHRASES.keys() & present if any(r[0] in present for r, _ in _PHRASES[w])}
    spans: list[tuple[int, int, str]] = []
    if not starts:
        return spans
    for i in [i for i, word in enumerate(raw) if word in starts]:
        if spans and i < spans[-1][1]:
            continue  # inside the previous phrase
        for rest, term in _PHRASES[raw[i]]:
            if tuple(raw[i + 1 : i + 1 + len(rest)]) == rest:
                spans.append((i, i + 1 + len(rest), term))
                break
    return spans


def words(text: str) -> list[tuple[str, str]]:
    """(surface word, term) pairs for `text`: lowercased, tech-aware, stop words dropped."""
    raw = _raw(text)
    terms = list(map(_term, raw))
    for start, end, term in _phrase_spans(raw, set(raw)):
        raw[start], terms[start] = " ".join(raw[start:end]), term
        terms[start + 1 : end] = [None] * (end - start - 1)
    return [(word, term) for word, term in zip(raw, terms, strict=True) if term]


def tokenize(text: str) -> list[str]:
    return [term for _, term in words(text)]


def term_counts(text: str) -> dict[str, int]:
    """Counter(tokenize(text)), worked out once per distinct word: the build's hot path."""
    raw = _raw(text)
    seen = Counter(raw)
    counts: dict[str, int] = {}
    for start, end, term in _phrase_spans(raw, seen.keys()):
        seen.subtract(raw[start:end])
        counts[term] = counts.get(term, 0) + 1
    get = counts.get
    for term, n in zip(map(_term, seen), seen.values(), strict=True):
        if term is not None and n > 0:
            counts[term] = get(term, 0) + n
    return counts


def _fields(agent: Agent, body_chars: int) -> tuple[str, str, str, str]:
    name, namespace = agent.name, ""
    # A plugin collection names `plugins/X/agents/Y.md` "X-Y" (the corpus flattens that path
    # to X__Y.md): "X" is a category, not what the agent does, so it weighs less.
    file_name = agent.path.stem.split("__")[-1]
    if name != file_name and name.endswith("-" + file_name):
        namespace, name = name[: -len(file_name) - 1], file_name
    description = _BOILERPLATE.sub(" ", _HANDOFF.sub(" ", agent.description).lower())
    body = _HANDOFF.sub(" ", agent.system_prompt[:body_chars])
    return name.replace("_", " "), namespace, description, body


class AgentIndex:
    """An immutable BM25F index over agents: build once, match many times."""

    def __init__(
        self, agents: Sequence[Agent], weights: Sequence[dict[str, float]], params: Params
    ) -> None:
        self.agents = tuple(agents)
        self.params = params
        # Per agent: term -> idf * saturated field-weighted tf, i.e. its share of a score.
        self._weights = tuple(weights)
        self._known = frozenset().union(*self._weights)

    @classmethod
    def build(cls, agents: Iterable[Agent], params: Params = Params()) -> AgentIndex:
        agents = list(agents)
        counts = [[term_counts(t) for t in _fields(a, params.body_chars)] for a in agents]
        lengths = [[sum(c.values()) for c in per_field] for per_field in counts]
        n = max(len(agents), 1)
        mean = [max(sum(row[f] for row in lengths) / n, 1.0) for f in range(len(FIELDS))]
        k1, combined, df = params.k1, [], Counter()
        for per_field, doc_lengths in zip(counts, lengths, strict=True):
            scales = [
                w / (1 - b + b * length / avg)
                for w, b, length, avg in zip(
                    params.weights, params.b, doc_lengths, mean, strict=True
                )
            ]
            # Comprehensions over the body, by far the biggest field, keep the build fast.
            tf = {t: c * scales[-1] for t, c in per_field[-1].items()}
            for field_counts, scale in zip(per_field[:-1], scales[:-1], strict=True):
                for term, c in field_counts.items():
                    tf[term] = tf.get(term, 0.0) + c * scale
            combined.append(tf)
            df.update(tf.keys())
        idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        # BM25 saturation applied once, to the weighted sum over fields (BM25F).
        weights = [{t: idf[t] * v * (k1 + 1) / (k1 + v) for t, v in tf.items()} for tf in combined]
        return cls(agents, weights, params)

    def match(self, text: str, top: int = 5) -> list[AgentMatch]:
        """The `top` best agents for `text`, best first; equal scores in name order."""
        surface: dict[str, str] = {}
        for word, term in words(text):
            surface.setdefault(term, word)
        query = self._known & surface.keys()
        scored = []
        for doc, weights in enumerate(self._weights):
            hits = weights.keys() & query
            if hits:
                # fsum is exact, so the score does not depend on set order (hash seeds).
                scored.append((math.fsum(weights[t] for t in hits), doc))
        scored.sort(key=lambda s: (-s[0], self.agents[s[1]].name, str(self.agents[s[1]].path)))
        results = []
        for score, doc in scored[: max(top, 0)]:
            weights = self._weights[doc]
            hits = sorted(weights.keys() & query, key=lambda t: (-weights[t], surface[t]))
            agent = self.agents[doc]
            matched = tuple(surface[t] for t in hits)
            results.append(AgentMatch(agent.name, round(score, 3), str(agent.path), matched))
        return results

    def __len__(self) -> int:
        return len(self.agents)


def weak_reason(matches: Sequence[AgentMatch]) -> str | None:
    """Why the best match should not be trusted without a look, or None when it is clear.

    Weak means: nothing matched; or the best score is below WEAK_SCORE; or an agent with a
    different name scores within WEAK_GAP (relative) of the best, so the pick is a coin toss.
    Chosen on the even lines of the query set (benchmarks/discovery.py prints the rates):
    off-topic prompts ("bake a chocolate cake") score below 5 while correct first picks
    almost never do; wrong first picks usually score well (they confuse neighbours, like two
    debuggers) but often with a rival close behind, which the gap catches.
    """
    if not matches:
        return "no agent matched any word of the task"
    best = matches[0]
    if best.score < WEAK_SCORE:
        return f"best score {best.score:g} ({best.name}) is below {WEAK_SCORE:g}"
    rival = next((m for m in matches[1:] if m.name != best.name), None)
    if rival is not None and best.score - rival.score <= WEAK_GAP * best.score:
        return (
            f"{best.name} ({best.score:g}) and {rival.name} ({rival.score:g}) score within "
            f"{WEAK_GAP:.0%} of each other"
        )
    return None


def is_weak(matches: Sequence[AgentMatch]) -> bool:
    """True when the best match should not be trusted without a look: see weak_reason."""
    return weak_reason(matches) is not None
