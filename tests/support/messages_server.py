"""A loopback HTTP server that speaks the Anthropic Messages API, for tests and benchmarks.

Point the real SDK at it (``anthropic.Anthropic(base_url=server.url, api_key="k")``) and
decide per request what it answers::

    with MessagesServer() as server:
        server.script(Reply.rate_limited(retry_after=2), Reply(text="hello"))
        server.responder = lambda req: Reply(delay=0.5) if "slow" in req.last_user_text else None

Precedence for ``POST /v1/messages``: authentication check, request validation, then the
next scripted reply (global FIFO), then ``responder`` (returning None falls through), then
the default: ``"Answer to: <first 60 chars of the last user message>"``, or a minimal
instance of ``output_config.format.schema``, or a ``tool_use`` block when ``tool_choice``
forces a tool. ``count_tokens`` is never scripted. Responders run on the server's handler
threads, possibly concurrently: guard any state they keep with a lock. Token counting,
prompt caching and usage figures are described in ``messages_content``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support.messages_content import (
    ERROR_TYPES,
    JSON,
    PromptCache,
    block_text,
    count_tokens,
    default_content,
    encode_sse,
    input_tokens,
    last_user_text,
    sse_events,
    stream_pieces,
    system_text,
    truncate_blocks,
    validate_body,
)

__all__ = ["MessagesServer", "RecordedRequest", "Reply", "Responder", "fail_first"]


@dataclass
class Reply:
    """What one request gets. A status >= 400 makes it an error reply."""

    status: int = 200
    text: str | None = None  # None → default generated text
    content_blocks: list[JSON] | None = None  # explicit blocks (text / tool_use)
    stop_reason: str = "end_turn"
    usage: JSON | None = None  # merged over the computed usage
    headers: dict[str, str] = field(default_factory=dict)
    error_type: str | None = None  # None → derived from status
    error_message: str | None = None
    delay: float = 0.0  # seconds to wait before answering (counts as in flight)
    drop: bool = False  # close the connection without any response
    stream_chunks: list[str] | None = None  # text_delta pieces; the text is their concatenation
    chunk_delay: float = 0.0  # seconds between SSE events when streaming
    stream_error: str | None = None  # error type sent as an SSE `error` event mid-stream
    # A faulty answer: the message is made (and billed, in usage_log) as usual, then
    # `mangle(message)` is sent instead, as JSON, or as is when it returns bytes (with
    # `content_type`); a stream's encoded SSE events go through `mangle_events`.
    mangle: Callable[[JSON], Any] | None = None
    content_type: str = "application/json"
    mangle_events: Callable[[list[bytes]], list[bytes]] | None = None

    @classmethod
    def error(cls, status: int, message: str | None = None, **kw: Any) -> Reply:
        return cls(status=status, error_message=message, **kw)

    @classmethod
    def rate_limited(cls, retry_after: float | None = None, **kw: Any) -> Reply:
        headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
        return cls(status=429, headers={**headers, **kw.pop("headers", {})}, **kw)

    @classmethod
    def overloaded(cls, **kw: Any) -> Reply:
        return cls(status=529, **kw)

    @classmethod
    def tool_use(cls, name: str, input: JSON, id: str = "toolu_1", **kw: Any) -> Reply:
        block = {"type": "tool_use", "id": id, "name": name, "input": input}
        return cls(content_blocks=[block], stop_reason="tool_use", **kw)


@dataclass
class RecordedRequest:
    """One request as received (every path, including rejected ones)."""

    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-cased names
    json: Any  # parsed body, or None when absent or not JSON
    received_at: float  # time.monotonic()
    status: int | None = None  # status sent; None while pending or when dropped

    @property
    def body(self) -> JSON:
        return self.json if isinstance(self.json, dict) else {}

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def system_text(self) -> str:
        return system_text(self.body.get("system"))

    @property
    def last_user_text(self) -> str:
        return last_user_text(self.body.get("messages"))

    @property
    def retry_count(self) -> int:
        """The SDK's attempt number (`x-stainless-retry-count`, 0 on the first attempt)."""
        return int(self.headers.get("x-stainless-retry-count", "0") or 0)

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        bearer = auth[7:] if auth[:7].lower() == "bearer " else None
        return self.headers.get("x-api-key") or bearer


Responder = Callable[[RecordedRequest], Reply | None]
Headers = dict[str, str]
Finish = Callable[..., None]


def fail_first(
    n: int, reply: Reply, key: Callable[[RecordedRequest], Any] = lambda r: r.last_user_text
) -> Responder:
    """A responder giving `reply` to the first `n` requests of each key (default: prompt)."""
    seen: dict[Any, int] = {}
    lock = threading.Lock()

    def responder(request: RecordedRequest) -> Reply | None:
        with lock:
            seen[key(request)] = count = seen.get(key(request), 0) + 1
        return reply if count <= n else None

    return responder


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 makes bursts of connects wait for SYN retries
    owner: MessagesServer

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.owner._lock:
            self.owner._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.owner._lock:
            self.owner._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or drop connections are normal here; anything else is a bug
        # in the server that tests should see rather than a traceback lost on stderr.
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            self.owner.errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    server_version = "messages-server/1"
    disable_nagle_algorithm = True  # small writes must not wait for delayed ACKs
    timeout = 60  # idle keep-alive connections are closed after this
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={k.lower(): v for k, v in self.headers.items()},
            json=body,
            received_at=time.monotonic(),
        )
        with owner._lock:
            owner.requests.append(request)
        try:
            owner._dispatch(self, request)
        except OSError:
            self.close_connection = True  # the client went away (e.g. its timeout fired)
        except Exception:
            owner.errors.append(traceback.format_exc())
            self.send_error_reply(request, Reply(status=500, error_message="server bug"))

    do_GET = do_DELETE = do_PUT = do_POST

    def send_bytes(
        self, request: RecordedRequest, status: int, headers: Headers, data: bytes
    ) -> None:
        request.status = status
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('Error',))[0]}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        # One write for head and body: avoids a Nagle/delayed-ACK stall on every request.
        self.wfile.write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + data)

    def send_json(
        self, request: RecordedRequest, status: int, payload: Any, headers: Headers
    ) -> None:
        data = json.dumps(payload).encode()
        base = {"content-type": "application/json", "content-length": str(len(data))}
        self.send_bytes(request, status, {**base, **headers}, data)

    def send_error_reply(self, request: RecordedRequest, reply: Reply) -> None:
        kind = reply.error_type or ERROR_TYPES.get(reply.status, "api_error")
        message = reply.error_message or f"Simulated {kind}"
        headers = {"request-id": self.server.owner._next_id("req"), **reply.headers}
        payload = {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": headers["request-id"],
        }
        self.send_json(request, reply.status, payload, headers)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class MessagesServer:
    """A fake Messages API on 127.0.0.1 (port 0 → a free port).

    Usage figures: see ``messages_content`` for token counts. Output tokens are counted on
    the reply's text (tool_use blocks: name + compact JSON input); when they would exceed
    ``max_tokens`` the content is cut and ``stop_reason`` becomes "max_tokens".

    Prompt caching is simulated by ``self.cache`` (a ``PromptCache``, see there);
    ``clock`` drives its expiry, so tests can substitute a fake clock.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        min_cache_tokens: int = 1024,
        cache_ttl: float = 300.0,
        require_key: str | None = None,
        responder: Responder | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host, self.port = host, port
        self.cache = PromptCache(min_cache_tokens, cache_ttl, clock)
        self.require_key = require_key  # when set: 401 unless x-api-key/bearer equals it
        self.responder = responder
        self.requests: list[RecordedRequest] = []
        self.usage_log: list[JSON] = []  # usage of each completed 200 reply, as sent
        self.errors: list[str] = []  # tracebacks of server-side bugs (should stay empty)
        self.in_flight = 0  # /v1/messages requests being handled, delays included
        self.max_in_flight = 0
        self._queue: deque[Reply] = deque()
        self._ids = 0
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> MessagesServer:
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _HTTPServer((self.host, self.port), _Handler)
            self._httpd.owner = self
            self.port = self._httpd.server_address[1]
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.01},
                name=f"messages-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake delayed handlers and close kept-alive connections."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # handler threads blocked reading keep-alive sockets end
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> MessagesServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- control and inspection ------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next /v1/messages requests, in order."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def scripted_remaining(self) -> int:
        return len(self._queue)

    def count(self, path: str | None = None, model: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (path is None or r.path == path) and (model is None or r.model == model)
            )

    def reset(self) -> None:
        """Forget requests, usage, scripted replies and the cache (configuration stays)."""
        with self._lock:
            self.requests.clear()
            self.usage_log.clear()
            self.errors.clear()
            self._queue.clear()
            self.max_in_flight = self.in_flight
        self.cache.clear()

    # -- request handling ------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}_test{self._ids:020d}"

    def _dispatch(self, handler: _Handler, request: RecordedRequest) -> None:
        if self.require_key is not None and request.api_key != self.require_key:
            reply = Reply(status=401, error_message="invalid x-api-key")
            return handler.send_error_reply(request, reply)
        if request.method != "POST" or request.path not in (
            "/v1/messages",
            "/v1/messages/count_tokens",
        ):
            reply = Reply(status=404, error_message=f"{request.method} {request.path} not found")
            return handler.send_error_reply(request, reply)
        problem = validate_body(request.path, request.json)
        if problem:
            return handler.send_error_reply(request, Reply(status=400, error_message=problem))
        if request.path == "/v1/messages/count_tokens":
            headers = {"request-id": self._next_id("req")}
            payload = {"input_tokens": input_tokens(request.body)}
            return handler.send_json(request, 200, payload, headers)

        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        done = False

        def finish(usage: JSON | None = None) -> None:
            # Bookkeeping happens just before the last write: a client holding its answer
            # must already see it reflected in in_flight and usage_log.
            nonlocal done
            if not done:
                done = True
                with self._lock:
                    self.in_flight -= 1
                    if usage is not None:
                        self.usage_log.append(usage)

        try:
            reply = self._choose_reply(request)
            stopped = bool(reply.delay) and self._stopping.wait(reply.delay)
            if stopped or reply.drop:
                finish()
                return handler.drop()
            if reply.status >= 400:
                finish()
                return handler.send_error_reply(request, reply)
            self._send_message(handler, request, reply, finish)
        finally:
            finish()

    def _choose_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            scripted = self._queue.popleft() if self._queue else None
        if scripted is not None:
            return scripted
        responder = self.responder
        return (responder(request) if responder else None) or Reply()

    def _send_message(
        self, handler: _Handler, request: RecordedRequest, reply: Reply, finish: Finish
    ) -> None:
        body = request.body
        blocks, stop_reason = _content(body, reply)
        blocks, truncated = truncate_blocks(blocks, body["max_tokens"])
        usage = {
            **self.cache.usage(body),
            "output_tokens": count_tokens("".join(block_text(b) for b in blocks)),
            **(reply.usage or {}),
        }
        message = {
            "id": self._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": "max_tokens" if truncated else stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        headers = {"request-id": self._next_id("req"), **reply.headers}
        if request.stream:
            return self._send_stream(handler, request, reply, message, headers, finish)
        finish(usage)
        if reply.mangle is None:
            return handler.send_json(request, 200, message, headers)
        sent = reply.mangle(json.loads(json.dumps(message)))
        data = sent if isinstance(sent, bytes) else json.dumps(sent).encode()
        base = {"content-type": reply.content_type, "content-length": str(len(data))}
        handler.send_bytes(request, 200, {**base, **headers}, data)

    def _send_stream(
        self,
        handler: _Handler,
        request: RecordedRequest,
        reply: Reply,
        message: JSON,
        headers: Headers,
        finish: Finish,
    ) -> None:
        pieces = [stream_pieces(b, reply.stream_chunks) for b in message["content"]]
        events = [encode_sse(name, data) for name, data in sse_events(message, pieces)]
        if reply.stream_error:
            # After message_start, ping, the first content_block_start and one delta.
            error = {"type": "error", "error": {"type": reply.stream_error, "message": "Simulated"}}
            events = events[:4] + [encode_sse("error", error)]
        if reply.mangle_events is not None:
            events = reply.mangle_events(events)
        # Chunked transfer encoding keeps the connection reusable after the stream.
        chunks = [b"%x\r\n%s\r\n" % (len(event), event) for event in events]
        chunks[-1] += b"0\r\n\r\n"
        if not reply.chunk_delay:  # a single write is much faster for benchmarks
            chunks = [b"".join(chunks)]
        base = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "transfer-encoding": "chunked",
        }
        for index, chunk in enumerate(chunks):
            if index and reply.chunk_delay and self._stopping.wait(reply.chunk_delay):
                finish()
                return handler.drop()
            if index == len(chunks) - 1:  # an interrupted stream is not a completed reply
                finish(None if reply.stream_error else message["usage"])
            if index == 0:
                handler.send_bytes(request, 200, {**base, **headers}, chunk)
            else:
                handler.wfile.write(chunk)


def _content(body: JSON, reply: Reply) -> tuple[list[JSON], str]:
    """The reply's content blocks and stop reason, generating defaults when unset."""
    if reply.content_blocks is not None:
        return [dict(b) for b in reply.content_blocks], reply.stop_reason
    if reply.stream_chunks is not None:
        return [{"type": "text", "text": "".join(reply.stream_chunks)}], reply.stop_reason
    if reply.text is not None:
        return [{"type": "text", "text": reply.text}], reply.stop_reason
    blocks, stop_reason = default_content(body)
    return blocks, stop_reason or reply.stop_reason
