"""An OpenAI-compatible chat-completions server: the offline default LLM.

The pipeline agent reaches its LLM with the official `openai` client, so the
bundled default must speak the same protocol: `POST /v1/chat/completions`
(plain JSON, or server-sent events with `stream: true` in OpenAI's chunk
format) and `GET /v1/models`. Replies come from the deterministic domain model
in `reference_agent.domain`, streamed one word per chunk with no artificial
delay, so any latency a test sees was injected on purpose. Swapping in vLLM,
llama.cpp or OpenAI is a change of base URL.

`backend="smollm2"` (`--backend smollm2`; `voxsim agent serve --llm smollm2`)
answers with a real small transformer instead (reference_agent/smollm2.py):
real tokens, real compute, one generation at a time, and no tool calls. It
honours `response_format` (json_schema / json_object: decoding constrained by
a grammar, streamed or not) and `seed`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from reference_agent import domain, smollm2

MODEL = "voxsim-domain"
MAX_BODY_BYTES = 1 << 20  # 1 MiB
#: What answers: the deterministic domain model, or SmolLM2 on llama.cpp (`make llm`).
BACKENDS = ("domain", "smollm2")


class Backend(Protocol):
    """What answers the server's chat completions, once the request is read and its
    `messages` checked (tests/reference_agent/test_llm_backend_contract.py)."""

    #: The model's name in `/v1/models` and in every reply.
    model: str

    async def complete(
        self, request: web.Request, body: dict[str, Any], messages: list[dict[str, Any]]
    ) -> web.StreamResponse:
        """The reply: one JSON completion, or SSE chunks when `body["stream"]`."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


_BACKEND = web.AppKey("backend", Backend)


def tokens(text: str) -> list[str]:
    """Split a reply into stream tokens: words, each with its leading whitespace."""
    return re.findall(r"\s*\S+", text)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status)


def _usage(messages: list[dict[str, Any]], reply: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "").split()) for m in messages)
    completion = len(tokens(reply))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunk(
    cid: str, created: int, delta: dict[str, Any], finish: str | None, model: str = MODEL
) -> bytes:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        return _error(400, "request body is not valid JSON")
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return _error(400, "'messages' must be a list of objects")
    return await request.app[_BACKEND].complete(request, body, messages)


class DomainBackend:
    """The deterministic domain model (`reference_agent.domain`), with its tool calls,
    streamed one word per chunk with no artificial delay."""

    model = MODEL

    async def complete(
        self, request: web.Request, body: dict[str, Any], messages: list[dict[str, Any]]
    ) -> web.StreamResponse:
        return await _domain_completion(request, body, messages)

    def close(self) -> None:
        return None


async def _domain_completion(
    request: web.Request, body: dict[str, Any], messages: list[dict[str, Any]]
) -> web.StreamResponse:
    offered = _offered_tools(body.get("tools"))
    text, action = domain.respond(messages) if offered else (domain.reply(messages), None)
    if action is not None and action.name not in offered:
        text, action = domain.reply(messages), None
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    call = _tool_call(action) if action is not None else None

    if not body.get("stream") and call is not None:
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        return web.json_response(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": MODEL,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": _usage(messages, ""),
            }
        )
    if not body.get("stream"):
        return web.json_response(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(messages, text),
            }
        )

    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    await response.write(_chunk(cid, created, {"role": "assistant"}, None))
    if call is not None:
        await _stream_tool_call(response, cid, created, call)
        return response
    for token in tokens(text):
        await response.write(_chunk(cid, created, {"content": token}, None))
        await asyncio.sleep(0)
    await response.write(_chunk(cid, created, {}, "stop"))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _offered_tools(tools: Any) -> set[str]:
    """Names of the functions the request offers (OpenAI `tools` parameter)."""
    if not isinstance(tools, list):
        return set()
    names = set()
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.add(fn["name"])
    return names


def _tool_call(action: domain.Action) -> dict[str, Any]:
    return {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": action.name, "arguments": json.dumps(action.arguments())},
    }


async def _stream_tool_call(
    response: web.StreamResponse, cid: str, created: int, call: dict[str, Any]
) -> None:
    """Stream one tool call the way OpenAI does: id and name first, then argument pieces."""
    head = {
        "index": 0,
        "id": call["id"],
        "type": "function",
        "function": {"name": call["function"]["name"], "arguments": ""},
    }
    await response.write(_chunk(cid, created, {"tool_calls": [head]}, None))
    for piece in tokens(call["function"]["arguments"]):
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        await response.write(_chunk(cid, created, delta, None))
        await asyncio.sleep(0)
    await response.write(_chunk(cid, created, {}, "tool_calls"))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()


class Smollm2Backend:
    """SmolLM2 on llama.cpp (reference_agent/smollm2.py): real tokens, no tool calls."""

    model = smollm2.MODEL

    def __init__(self, real: smollm2.Smollm2) -> None:
        self.real = real

    async def complete(
        self, request: web.Request, body: dict[str, Any], messages: list[dict[str, Any]]
    ) -> web.StreamResponse:
        return await _real_completion(request, self.real, body, messages)

    def close(self) -> None:
        self.real.close()


async def load_backend(name: str) -> Backend:
    """The backend called `name` (one of BACKENDS), loaded; "smollm2" loads and warms up
    the model first (~0.5 s) and raises RuntimeError when it is not installed."""
    if name not in BACKENDS:
        raise ValueError(f"unknown LLM backend {name!r}: one of {', '.join(BACKENDS)}")
    if name == "smollm2":
        return Smollm2Backend(await smollm2.Smollm2.load())
    return DomainBackend()


async def _real_completion(
    request: web.Request, model: smollm2.Smollm2, body: dict[str, Any], messages: list[Any]
) -> web.StreamResponse:
    """Answer with the real model: SSE chunks as it samples tokens, or one JSON reply.

    The first token is awaited before the response starts, so a model error
    (e.g. a prompt longer than its context) is a plain HTTP 500, not a broken
    stream; `tools` are ignored (docs/reference-agent.md). `response_format`
    constrains the reply to JSON (smollm2.grammar_format).
    """
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or smollm2.MAX_TOKENS
    temperature = body.get("temperature")
    seed = body.get("seed")
    if not isinstance(limit, int) or limit < 1:
        return _error(400, "'max_tokens' must be a positive integer")
    if temperature is not None and not isinstance(temperature, int | float):
        return _error(400, "'temperature' must be a number")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        return _error(400, "'seed' must be an integer")
    try:
        grammar = smollm2.grammar_format(body.get("response_format"))
    except ValueError as exc:
        return _error(400, str(exc))
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    pieces = model.stream(
        messages, min(limit, 512), float(temperature or 0.0), response_format=grammar, seed=seed
    )
    async with contextlib.aclosing(pieces):
        try:
            first = await anext(pieces, "")
        except Exception as exc:
            return _error(500, f"{smollm2.MODEL}: {exc}", kind="server_error")
        if not body.get("stream"):
            text = first + "".join([p async for p in pieces])
            reply = {"role": "assistant", "content": text}
            return web.json_response(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": smollm2.MODEL,
                    "choices": [{"index": 0, "message": reply, "finish_reason": "stop"}],
                    "usage": _usage(messages, text),
                }
            )
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        role = {"role": "assistant", "content": first}
        try:
            await response.write(_chunk(cid, created, role, None, smollm2.MODEL))
            async for piece in pieces:
                delta = {"content": piece}
                await response.write(_chunk(cid, created, delta, None, smollm2.MODEL))
            await response.write(_chunk(cid, created, {}, "stop", smollm2.MODEL))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away (a barge-in): closing `pieces` stops the model
    return response


async def _models(request: web.Request) -> web.Response:
    name = request.app[_BACKEND].model
    model = {"id": name, "object": "model", "created": 0, "owned_by": "voxsim"}
    return web.json_response({"object": "list", "data": [model]})


def make_app(backend: Backend | None = None) -> web.Application:
    """The aiohttp application, for embedding in another server; `backend` answers
    (the domain model when None)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[_BACKEND] = backend if backend is not None else DomainBackend()
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_get("/v1/models", _models)
    return app


@dataclass
class LlmServer:
    """A running server; `base_url` is what the `openai` client wants."""

    host: str
    port: int
    _runner: web.AppRunner
    model: str = MODEL
    _backend: Backend | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def close(self) -> None:
        await self._runner.cleanup()
        if self._backend is not None:
            self._backend.close()


async def start_llm_server(
    host: str = "127.0.0.1", port: int = 0, backend: str = "domain"
) -> LlmServer:
    """Start the server on `host:port` (port 0: a free port) and return it.

    `backend` is one of BACKENDS; "smollm2" loads and warms up the model first (~0.5 s)
    and raises RuntimeError when it is not installed (`smollm2.available()`).
    """
    answering = await load_backend(backend)
    runner = web.AppRunner(make_app(answering), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        answering.close()
        raise
    real_port = int(runner.addresses[0][1])  # the port the OS picked when `port` is 0
    return LlmServer(
        host=host, port=real_port, _runner=runner, model=answering.model, _backend=answering
    )


async def _serve(host: str, port: int, backend: str = "domain") -> None:
    server = await start_llm_server(host, port, backend)
    print(f"voxsim LLM server at {server.base_url} (model {server.model})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> None:
    """`python -m reference_agent.llm_server --host 127.0.0.1 --port N`: serve forever."""
    parser = argparse.ArgumentParser(description="voxsim's offline OpenAI-compatible LLM")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--backend", choices=BACKENDS, default="domain")
    args = parser.parse_args(argv)
    if args.backend == "smollm2" and not smollm2.available():
        sys.stderr.write(f"llm_server: --backend smollm2: {smollm2.MISSING}\n")
        raise SystemExit(2)
    try:
        asyncio.run(_serve(args.host, args.port, args.backend))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
