"""`model: auto`: which tier (simple, standard, complex) a task needs, and why.

Pure, offline and deterministic: a handful of precompiled regexes over the prompt template
as written, plus what the task declares (output schema, `max_tokens`) and its agent. Each
signal adds a signed weight (negative: simpler, positive: harder); the sum is the score and
two thresholds turn it into a tier. Signals are coarse on purpose: the goal is to stop
paying the complex tier for extraction and the simple tier for security audits, not to
grade prompts finely. Every signal that fired is kept so `plan` can show its reasoning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Tier = Literal["simple", "standard", "complex"]

DEFAULT_TIER_MODELS: dict[str, str] = {"simple": "haiku", "standard": "sonnet", "complex": "opus"}

# Score thresholds. One imperative complex verb (+2.25) clears COMPLEX_AT even in a short
# prompt (-0.5); one simple verb (-1.5) reaches SIMPLE_AT on its own. A verb that is only
# mentioned (0.4 of its weight) needs support from other signals to move a task off standard.
SIMPLE_AT = -1.0
COMPLEX_AT = 1.5


Label = tuple[str, str]  # (kind, label) of a table row


@dataclass(frozen=True)
class TierDecision:
    tier: Tier
    reason: str  # one short sentence naming the strongest signals
    signals: tuple[str, ...]  # every signal that fired, "label +0.50", strongest first
    score: float


# The kind of work asked is the strongest signal. One row per label: kind | label |
# alternatives, each starting with two plain letters (the scanner dispatches on them). Kinds:
# c complex work, t hard topic, n standard work, s simple work, a short-answer shape,
# m asks for little, d asks for depth, k a constraint (counted, not weighed), x a negation
# (the rest of its clause asks for nothing: "do not redesign, just format"). Rows are
# tried in order, so "plan the migration" is planning before "plan" can match.
_TABLE = r"""
c | security audit | security (?:review|audit|assessment) | audit\w* | penetration test\w*
c | migration plan | plan\w*\b[^.\n]{0,40}?\b(?:migration|architecture|rollout|cut[- ]?over)
c | migration plan | migration plan | rollout plan | cut[- ]?over plan | capacity plan\w*
n | coding | convert\w* (?:this|the|our) [^\n]{0,40}?\b(?:module|code|function|class|service)s?\b
n | coding | port\w* (?:this|the|our)\b
c | architecture | architect\w* | system design | data model\w* | monolith\w*
c | architecture | microservic\w* | bounded context\w*
c | design work | design\w* | redesign\w*
c | proof | prov(?:e|es|ing)\b | proofs?\b | formal(?:ly)? (?:verif\w*|proof|spec\w*)
c | algorithm optimisation | optimi[sz]\w*[^.\n]{0,30}?\b(?:algorithm\w*|complexity|latency)
c | large refactor | refactor\w*[^.\n]{0,30}?\b(?:large|entire|whole|across|codebase|monolith)
c | research | research\w* | investigat\w* | literature\b
c | strategy | strateg\w*
c | decision | decide (?:whether|between|which|if)\b | weigh\w* | recommend\w*
c | decision | pick (?:one|the best)\b | choose (?:between|among|one)\b
c | proof | verify that\b | counterexample\w* | lineari[sz]ab\w*
t | threat model | threat[- ]model\w* | attack (?:surface|paths?|vectors?)\b | attackers?\b
t | threat model | exfiltrat\w* | insider threat\w*
t | vulnerabilities | vulnerabilit\w* | exploitab\w* | injection\b | privilege\w* | insecure\b
t | cryptography | cryptograph\w* | forward secrecy\b | replay (?:attacks?|protection)\b
t | vulnerabilities | xss\b | csrf\b | ssrf\b
t | invariants | invariants?\b | time complexity | big[- ]o\b | np[- ]hard\b | correctness proof
t | algorithm design | algorithms?\b | argu\w*[^.\n]{0,30}?correct\w*
t | trade-offs | trade[- ]?offs?\b
t | root cause | root[- ]caus\w* | post[- ]?mortem | diagnos\w* | find why\b | figure out why\b
t | root cause | the cause\b | regressions?\b
t | performance | latenc\w* | throughput\b | bottleneck\w* | memory leak\w*
t | novel problem | novel\b | state of the art | first principles
t | concurrency | race conditions?\b | deadlock\w* | concurren\w* | distributed\b | consensus\b
t | concurrency | consistency model\w* | lock[- ]free\b | wait[- ]free\b
t | distributed systems | shard\w* | replicat\w* | failover\w* | cross[- ]region\b
t | alternatives | two (?:approaches|options)\b | three (?:approaches|options)\b
t | alternatives | several (?:approaches|options)\b | alternatives\b
t | failure modes | failure modes?\b | fault[- ]toleran\w* | disaster recovery | scalab\w*
a | short answer | one[- ](?:line|word|sentence|paragraph)\w* | two[- ]sentences?\b
a | short answer | three[- ]sentences?\b | yes[/ ]or[/ ]no\b | yes[/ ]no\b | true or false\b
a | short answer | single (?:word|line|number)\b | title for\b | headline\b | subject line\b
a | short answer | at most \w+ words?\b | under \w+ words?\b | in \w+ words?\b
a | short answer | in \w+ (?:bullet points?|bullets|sentences)\b
a | short answer | two bullet points?\b | three bullet points?\b | five bullet points?\b
s | extraction | extract\w* | pull\w*\b[^.\n]{0,60}?\bout of\b | pull out\b | parse[sd]?\b
s | extraction | structured (?:data|records|fields)\b
s | classification | classif\w* | categori[sz]\w* | label(?:s|led|ling)?\b | sentiment\b
s | classification | tag(?:s|ged|ging)?\b | triage\w* | detect\w* | mark (?:each|every|all)\b
s | formatting | format(?:s|ted|ting)?\b | reformat\w* | convert\w* | normali[sz]\w*
s | formatting | into (?:a |an )?(?:json|csv|yaml|markdown|html|table|bullet)\w* | sort\b | dedup\w*
s | formatting | turn\w*\b[^.\n]{0,40}?\binto (?:a |an )?(?:json|csv|yaml|markdown|html|table|list)
s | formatting | title case\b | alphabetical\w*
s | formatting | remove duplicates\b | map (?:each|every|these|the)\b
s | yes/no question | is\b[^.?\n]{0,80}\? | are\b[^.?\n]{0,80}\? | does\b[^.?\n]{0,80}\?
s | yes/no question | do\b[^.?\n]{0,80}\? | can\b[^.?\n]{0,80}\? | should\b[^.?\n]{0,80}\?
s | extraction | return (?:the|its|their)\b
s | translation | translat\w*
s | summarisation | summar\w* | condens\w* | tl[; ]?dr\b | gist\b | shorten\w*
s | listing | list(?:s|ed|ing)?\b | enumerat\w* | count(?:s|ing)?\b | how many\b
s | small edit | renam\w* | fix (?:the |any |all )?(?:typos?|spelling|grammar)\b | typos?\b
s | small edit | proofread\w* | spelling\b | grammar\b | clean up\b | capitali[sz]ation\b
n | coding | implement\w* | debug\w* | fix (?:the |this )?bugs?\b | unit tests?\b
n | coding | write (?:a |an |the )?(?:\w+ )?(?:function|script|class|tests?|code|query|module)
n | review | review\w* | assess\w* | evaluat\w* | critiqu\w*
n | writing | writ(?:e|es|ing)\b | draft\w* | rewrit\w* | explain\w* | describ\w*
n | writing | document(?:s|ing)? (?:the|this|how|its|each|every|all)\b | apply\b | revis\w*
n | synthesis | merg\w* | combin\w* | consolidat\w* | reconcil\w*
n | analysis | analy[sz]\w* | compar\w* | plan\w*
m | asks for little | just\b | only\b | simply\b | quick(?:ly)?\b | brief(?:ly)?\b
d | asks for depth | thorough\w* | in[- ]depth\b | careful\w* | rigorous\w* | step by step\b
d | asks for depth | comprehensive\w* | exhaustive\w* | justify\b
k | constraint | must\b | shall\b | ensur\w* | guarantee\w* | at (?:most|least)\b
k | constraint | no more than\b | within \d | backwards?[- ]compatib\w* | constraints?\b
k | constraint | requirements?\b | edge cases?\b
x | negation | do not\b | don't\b | dont\b | never\b | no need to\b | without\b | not\b
x | negation | rather than\b | instead of\b
"""


@lru_cache(maxsize=1)
def _scanner() -> tuple[re.Pattern[str], dict[str, re.Pattern[str]], dict[str, Label]]:
    """Built on first use (compiling it takes a few tens of milliseconds, which a workflow
    without `model: auto` should not pay at start-up)."""
    # Python's re tries every branch of an alternation at every position: one flat pattern
    # with a named group per entry cost ~70 us a prompt. The finder branches on a word's
    # first then second letter, so a word costs a few character compares unless it really
    # starts like a table entry, and has no named groups (they halve its speed); the few
    # words it finds are then named by the small pattern for their first two letters.
    groups: dict[str, Label] = {}
    named: dict[str, list[str]] = {}  # first two letters -> alternatives, in table order
    tails: dict[str, dict[str, list[str]]] = {}  # first letter -> second -> the rests
    for r, line in enumerate(_TABLE.strip().splitlines()):
        kind, label, *alternatives = (cell.strip() for cell in line.split(" | "))
        for a, alt in enumerate(alternatives):
            assert alt[:2].isalpha() and alt[:2].islower(), alt  # would break the dispatch
            groups[f"g{r}_{a}"] = (kind, label)
            named.setdefault(alt[:2], []).append(f"(?P<g{r}_{a}>{alt})")
            tails.setdefault(alt[0], {}).setdefault(alt[1], []).append(alt[2:])
    branches = "|".join(
        first + "(?:" + "|".join(f"{c}(?:{'|'.join(rests)})" for c, rests in sub.items()) + ")"
        for first, sub in tails.items()
    )
    by_prefix = {prefix: re.compile("|".join(alts)) for prefix, alts in named.items()}
    return re.compile(rf"\b(?:{branches})"), by_prefix, groups


# Work verbs (c, n, s) weigh fully when they open a sentence (the work asked) and less
# when only mentioned: "format the design doc" is formatting, not design. Topics, answer
# shape and tone (t, a, m, d) count wherever they appear.
_BASE = {"c": 2.25, "t": 1.75, "n": 0.5, "s": -1.5, "a": -1.5, "m": -0.5, "d": 0.5}
_CAP = {"c": 3.5, "t": 2.5, "n": 0.75, "s": -2.5, "a": -1.5, "m": -0.5, "d": 0.75}
_ANYWHERE = "tamd"
_MENTION = 0.4  # a mentioned verb is mostly a noun ("the design doc", "the audit log")

# What may stand between a sentence boundary and the word that opens it: bullets, fillers
# ("please", "then, ") and light verbs that hand the work to their object ("produce a
# threat model", "find the root cause").
_LEAD_RE = re.compile(
    r"[\s,]*(?:[-*>]\s*|\d+[.)]\s*)?"
    r"(?:(?:please|now|then|first|next|finally|also|and|just|simply|only|instead)\b,?\s*"
    r"|(?:produce|create|give|provide|prepare|propose|perform|conduct|do|make|find|identify"
    r"|come up with)"
    r"(?:\s+(?:a|an|the|me|us))?\s+)*"
)
_LEAD_WORDS = frozenset(re.findall(r"[a-z]+", re.sub(r"\\[a-z]", " ", _LEAD_RE.pattern)))
_CLAUSE_END_RE = re.compile(r"[.,;:!?\n]")  # ends a negated clause
_TEMPLATE_RE = re.compile(r"\{\{\s*(?:(tasks)\.[\w-]+\.(output|json)\b|inputs\.)?[^}]*\}\}")
_ITEM_RE = re.compile(r"^[ \t]*(?:\d+[.)]|[-*•])[ \t]+\S", re.M)


def _matches(lowered: str) -> list[tuple[str, str, int, int]]:
    """(kind, label, start, end) of every table match in lowercased text, left to right;
    a match hides the words inside it ("security review" is not also a review)."""
    found = []
    find, by_prefix, groups = _scanner()
    for m in find.finditer(lowered):
        start = m.start()
        which = by_prefix[lowered[start : start + 2]].match(lowered, start)
        if which and which.lastgroup:  # always: the same alternatives in the same order
            found.append((*groups[which.lastgroup], start, m.end()))
    return found


def _opens(lowered: str, start: int, negated_to: int) -> bool:
    """Whether the word at `start` opens its sentence, or the clause after a negation."""
    if start == 0:
        return True
    # Mid-sentence unless the word before is a filler: most mentions end here, cheaply.
    if (
        start > 1
        and lowered[start - 1] == " "
        and lowered[start - 2].isalpha()
        and lowered[lowered.rfind(" ", 0, start - 1) + 1 : start - 1] not in _LEAD_WORDS
    ):
        return False
    lo, find = max(0, start - 120), lowered.rfind  # no filler run is longer than 120
    cut = max(find(".", lo, start), find("\n", lo, start), find(":", lo, start))
    cut = max(cut, find(";", lo, start), find("?", lo, start), find("!", lo, start), negated_to)
    if cut < 0 < lo:
        return False
    return _LEAD_RE.fullmatch(lowered, cut + 1, start) is not None


def _heads_line(lowered: str, start: int) -> bool:
    """Whether only indentation or a bullet precedes `start` on its line (a section name)."""
    return not lowered[lowered.rfind("\n", 0, start) + 1 : start].strip(" \t-*#>")


def _scan(text: str) -> tuple[list[tuple[str, float]], int]:
    """Kind-of-work signals and the number of constraints. Per kind, the strongest label
    counts fully and the others a third (several simple verbs are still simple work)."""
    best, constraints = _strongest(text.lower())
    if len({kind for kind, _, _ in best.values()}) == len(best):  # one label per kind
        return [(shown, weight) for _, weight, shown in best.values()], constraints
    return _per_kind(best), constraints


def _strongest(lowered: str) -> tuple[dict[str, tuple[str, float, str]], int]:
    """Each label's strongest signal (label -> (kind, weight, shown label)), and the
    number of constraints."""
    best: dict[str, tuple[str, float, str]] = {}
    constraints, negated_to = 0, -1
    for kind, label, start, end in _matches(lowered):
        if start < negated_to or (lowered.startswith(":", end) and _heads_line(lowered, start)):
            continue  # negated, or "Security: {{ ... }}" which names a section
        if kind == "x":
            clause_end = _CLAUSE_END_RE.search(lowered, end)
            negated_to = clause_end.start() if clause_end else len(lowered)
            continue
        if kind == "k":
            constraints += 1
            continue
        if label == "yes/no question" and lowered.count("?") > 1:
            continue  # one yes/no question wants a yes or no; several open a discussion
        # Only kinds c, n, s and t care whether the word opens its sentence (or the clause
        # after a negation); finding out costs, so the others are not asked.
        opens = kind in "cnst" and _opens(lowered, start, negated_to)
        weight, shown = _signal(kind, label, opens)
        if label not in best or abs(weight) > abs(best[label][1]):
            best[label] = (kind, weight, shown)
    return best, constraints


def _signal(kind: str, label: str, opens: bool) -> tuple[float, str]:
    """A match's weight and how it is shown."""
    if kind in _ANYWHERE:
        # "produce a threat model": a hard topic that is the object of the work is work
        return _BASE["c" if opens else kind], label
    if opens:
        return _BASE[kind], label
    return _BASE[kind] * _MENTION, f"mentions {label}"


def _per_kind(best: dict[str, tuple[str, float, str]]) -> list[tuple[str, float]]:
    """Several labels of one kind: the strongest counts fully, the others a third, up to
    the kind's cap."""
    by_kind: dict[str, list[tuple[float, str]]] = {}
    for kind, weight, shown in best.values():
        by_kind.setdefault(kind, []).append((weight, shown))
    out: list[tuple[str, float]] = []
    for kind, ranked in by_kind.items():
        if len(ranked) > 1:
            ranked.sort(key=lambda ws: (-abs(ws[0]), ws[1]))
        cap, total = _CAP[kind], 0.0
        for i, (weight, shown) in enumerate(ranked):
            part = weight if i == 0 else weight / 3
            part = max(part, cap - total) if cap < 0 else min(part, cap - total)
            if part:
                out.append((shown, part))
                total += part
    return out


# (threshold, weight), descending: the first threshold a value reaches gives its weight.
_LENGTH_STEPS = ((4000, 1.5), (1000, 1.0), (300, 0.5), (61, 0.0), (0, -0.5))
_STRUCTURE_STEPS = {"listed requirements": ((6, 1.0), (3, 0.5)), "questions": ((4, 1.0), (2, 0.5))}
_UPSTREAM_STEPS = ((3, 1.0), (2, 0.5), (0.5, 0.25))
_MAX_TOKENS_STEPS = ((16000, 1.0), (4000, 0.5), (301, 0.0), (0, -0.5))


def _stepped(value: float, steps: tuple[tuple[float, float], ...]) -> float:
    """The weight of the first step whose threshold `value` reaches (steps descending)."""
    for at, weight in steps:
        if value >= at:
            return weight
    return 0.0


def _schema_signal(schema: Mapping[str, Any] | None) -> tuple[str, float]:
    if schema is None:
        return ("structured output", -0.5)
    props, closed = _schema_shape(schema)
    # A few fields, some of them enums or booleans: the model fills in a form.
    if props <= 6 and closed:
        return ("closed output schema", -1.0)
    return ("structured output", -0.5 if props <= 15 else -0.25)


def _schema_shape(node: Any) -> tuple[int, bool]:
    props, closed = 0, False
    if isinstance(node, Mapping):
        closed = "enum" in node or "const" in node or node.get("type") == "boolean"
        children = node.get("properties")
        props = len(children) if isinstance(children, Mapping) else 0
        node = list(node.values())
    if isinstance(node, list):
        for value in node:
            p, c = _schema_shape(value)
            props, closed = props + p, closed or c
    return props, closed


def _model_prior(model: str | None) -> tuple[str, float]:
    # An id counts by its family word: "claude-haiku-4-5" is haiku. `inherit` says nothing.
    name = (model or "").lower()
    # Half a kind-of-work signal: authors often pin a model for the agent, not the task.
    for word, weight in (("haiku", -0.5), ("opus", 0.5), ("sonnet", 0.0)):
        if word in name:
            return (f"agent model {word}", weight)
    return ("", 0.0)


def _description_signal(description: str) -> tuple[str, float]:
    # What the agent is for, from its first recognised verb, is a hint at half weight:
    # the task's own prompt says what is asked this time.
    for kind, label, _, _ in _matches(description.lower()):
        if kind in "csn":
            return (f"agent does {label}", _BASE[kind] * 0.5)
    return ("", 0.0)


def classify_task(
    prompt: str,
    *,
    agent_model: str | None,
    agent_description: str = "",
    has_output_schema: bool,
    max_tokens: int,
    output_schema: Mapping[str, Any] | None = None,
) -> TierDecision:
    """The tier a task needs. `prompt` is the template as written; `output_schema`, when
    given, lets a small closed schema (an enum verdict) count for more."""
    text, full_refs, json_refs = prompt, 0, 0
    if "{{" in prompt:  # one split gives the text around templates and each one's kind
        parts = _TEMPLATE_RE.split(prompt)
        text = " ".join(parts[::3])  # braces are not text; a space keeps words apart
        full_refs, json_refs = parts[2::3].count("output"), parts[2::3].count("json")
    tokens = (len(text.strip()) + 3) // 4  # ~4 characters a token; the steps are coarse

    signals, constraints = _scan(text)
    signals.append((f"{tokens}-token prompt", _stepped(tokens, _LENGTH_STEPS)))
    # Structure: many requirements, questions or constraints mean more to keep in mind.
    items = len(_ITEM_RE.findall(text)) if "\n" in text else 0
    for count, noun in ((items, "listed requirements"), (text.count("?"), "questions")):
        if count >= 2:
            signals.append((f"{count} {noun}", _stepped(count, _STRUCTURE_STEPS[noun])))
    if constraints >= 3:
        signals.append((f"{constraints} constraints", 1.0 if constraints >= 5 else 0.5))
    # Upstream outputs: each full output is more context to reconcile; a JSON field is a
    # small, already structured piece of one.
    if full_refs or json_refs:
        outs = f"{full_refs} upstream output{'s' * (full_refs != 1)}" if full_refs else ""
        fields = f"{json_refs} {'field' if full_refs else 'upstream field'}" if json_refs else ""
        fields += "s" * (json_refs > 1)
        label = "reads " + " and ".join(part for part in (outs, fields) if part)
        signals.append((label, _stepped(full_refs + 0.5 * json_refs, _UPSTREAM_STEPS)))
    if has_output_schema:
        signals.append(_schema_signal(output_schema))
    if max_tokens <= 300 or max_tokens >= 4000:
        signals.append((f"max_tokens {max_tokens}", _stepped(max_tokens, _MAX_TOKENS_STEPS)))
    if agent_model:
        signals.append(_model_prior(agent_model))
    if agent_description:
        signals.append(_description_signal(agent_description))

    # Zero weights are dropped except the agent's sonnet prior, which was still weighed.
    fired = [(lbl, w) for lbl, w in signals if w or lbl == "agent model sonnet"]
    fired.sort(key=lambda lw: -abs(lw[1]))  # stable: ties keep the order above
    score = round(sum(w for _, w in fired), 4)
    tier: Tier = "simple" if score <= SIMPLE_AT else "standard"
    if score >= COMPLEX_AT:
        tier = "complex"
    shown = tuple(f"{lbl} {w:+.2f}" for lbl, w in fired)
    return TierDecision(tier, _reason(tier, fired), shown, score)


def _reason(tier: Tier, fired: list[tuple[str, float]]) -> str:
    up = [lbl for lbl, w in fired if w > 0]
    down = [lbl for lbl, w in fired if w < 0]
    if tier == "standard" and up and down:
        return f"standard: {', '.join(up[:2])}, balanced by {down[0]}"
    top = down if tier == "simple" else up if tier == "complex" else up or down
    return f"{tier}: {', '.join(top[:3]) if top else 'no strong signal either way'}"
