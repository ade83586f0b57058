"""An OpenAI-compatible chat-completions endpoint (Starlette) that the real `openai` SDK can talk to."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.emulators.server import Holds

DEFAULT_REPLY = "Hello from the OpenAI emulator."
_UNSET: Any = object()

# An answer is its text, or {"tool_calls": [{"name": ..., "arguments": "<JSON>"}], "content": ...}.
Answer = "str | dict[str, Any] | None"
Responder = Callable[[dict[str, Any]], Answer]

# OpenAI's own error types for the statuses tests script.
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def openai_error(status: int, message: str) -> JSONResponse:
    """An error response in OpenAI's JSON shape."""
    kind, code = _ERROR_TYPES.get(status, ("server_error", None))
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers={"x-request-id": _request_id()})


def _request_id() -> str:
    return "req_" + secrets.token_hex(12)


class OpenAIEmulator:
    """`POST /v1/chat/completions`, in memory and scriptable from tests; point the SDK at `{url}/v1`."""

    def __init__(
        self,
        api_key: str | None = None,
        reply: str | None = DEFAULT_REPLY,
        responder: Responder | None = None,
    ) -> None:
        self.api_key = api_key
        # Every authenticated request body, answered or failed, in arrival order.
        self.requests: list[dict[str, Any]] = []
        # Answers wait as these say: a delay, a closed gate, or until requests are in flight together.
        self.holds = Holds()
        self.responder = responder
        # When set, failures carry OpenAI's `retry-after-ms` header, which the SDK obeys between retries.
        self.retry_after_ms: int | None = None
        # A model without tool support: a request offering tools gets a 400, as such servers answer.
        self.refuse_tools = False
        self._fixed = reply
        self._script: deque[str | None] = deque()
        self._failures: deque[list[int]] = deque()
        self._broken = 0
        # The app runs on uvicorn's thread while tests script and read it from theirs.
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    def reply_with(self, text: str | None) -> None:
        """Answer every request with `text` (None sends a null content)."""
        with self._lock:
            self._fixed = text
            self._script.clear()
            self.responder = None

    def script(self, replies: list[Any]) -> None:
        """Answer the next requests with these replies in order, then fall back to the usual answer."""
        with self._lock:
            self._script.extend(replies)

    def respond(self, responder: Responder) -> None:
        """Compute each answer from the request body (after any scripted replies run out)."""
        self.responder = responder

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` requests with this HTTP error."""
        with self._lock:
            self._failures.append([status, times])

    def break_next(self, times: int = 1) -> None:
        """Answer the next `times` requests with HTTP 200 and a body cut off half-way (truncated JSON)."""
        with self._lock:
            self._broken += times

    def reset(self) -> None:
        """Forget requests and scripted behaviour."""
        with self._lock:
            self._broken = 0
            self.requests.clear()
            self._script.clear()
            self._failures.clear()
            self._fixed = DEFAULT_REPLY
            self.responder = None
            self.retry_after_ms = None
            self.refuse_tools = False
        self.holds.reset()

    def _authorized(self, request: Request) -> bool:
        if self.api_key is None:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.encode(), self.api_key.encode())

    def _next_failure(self) -> int | None:
        if not self._failures:
            return None
        failure = self._failures[0]
        failure[1] -= 1
        if failure[1] <= 0:
            self._failures.popleft()
        return failure[0]

    async def _chat(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return openai_error(401, "Incorrect API key provided.")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return openai_error(400, "'model' and 'messages' are required properties.")
        if problem := _content_problem(body["messages"]):
            return openai_error(400, problem)
        with self._lock:
            self.requests.append(body)
            if self.refuse_tools and body.get("tools"):
                return openai_error(400, "tools is not supported for this model")
            status = self._next_failure()
            broken, self._broken = self._broken > 0, max(self._broken - 1, 0)
            scripted = self._script.popleft() if self._script else _UNSET
            responder, fixed = self.responder, self._fixed
        await self.holds.wait()
        if status is not None:
            response = openai_error(status, f"The server had an error processing your request ({status}).")
            if self.retry_after_ms is not None:
                response.headers["retry-after-ms"] = str(self.retry_after_ms)
            return response
        if scripted is not _UNSET:
            content = scripted
        elif responder is not None:
            content = responder(body)
        else:
            content = fixed
        if broken:
            whole = json.dumps(_completion(body, content))
            return Response(whole[: len(whole) // 2], media_type="application/json")
        return JSONResponse(_completion(body, content), headers={"x-request-id": _request_id()})


def _content_problem(messages: list[Any]) -> str | None:
    """What is wrong with the messages' content, as OpenAI words it: a string, or a list of content parts
    ("text" parts, and "image_url" parts in user messages)."""
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f"Invalid type for 'messages[{index}].content': expected a string or an array."
        for number, part in enumerate(content):
            where = f"messages[{index}].content[{number}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            image = part.get("image_url") if kind == "image_url" else None
            if isinstance(image, dict) and isinstance(image.get("url"), str) and message["role"] == "user":
                continue
            return f"Invalid content part '{where}': expected a text or (in a user message) image_url part."
    return None


def _words(content: Any) -> int:
    """Rough tokens: whitespace words of the text, and 85 per image (OpenAI's low-detail cost)."""
    if isinstance(content, list):
        return sum(len(str(p.get("text", "")).split()) if p.get("type") == "text" else 85 for p in content)
    return len(str(content or "").split())


def _completion(body: dict[str, Any], answer: Any) -> dict[str, Any]:
    """A ChatCompletion object as OpenAI returns it, with rough whitespace token counts."""
    messages = [m for m in body["messages"] if isinstance(m, dict)]
    prompt_tokens = sum(_words(m.get("content", "")) for m in messages)
    message: dict[str, Any] = {"role": "assistant", "content": answer, "refusal": None}
    finish = "stop"
    if isinstance(answer, dict):  # the model calls tools
        calls = [
            {"id": "call_" + secrets.token_hex(8), "type": "function", "function": dict(call)}
            for call in answer["tool_calls"]
        ]
        message = {
            "role": "assistant",
            "content": answer.get("content"),
            "refusal": None,
            "tool_calls": calls,
        }
        finish = "tool_calls"
    completion_tokens = len(str(message["content"] or "").split())
    return {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_emulator",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
