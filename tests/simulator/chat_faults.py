"""A real chat-completions server on loopback that answers however a test says.

Shared by the tests of the `llm` caller policy and of the call judge: a route
`/{fault}/v1/chat/completions` whose reply the test's `answer` chooses from the
path's fault name (a broken body, garbage, a stall...). No model is mocked:
these servers stand in for a broken endpoint, not for a model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def completion(message: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed chat completion carrying `message`."""
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 0,
        "model": "fault",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def content(text: str | None) -> dict[str, Any]:
    """A completion whose assistant message has this content."""
    return completion({"role": "assistant", "content": text})


@dataclass
class FaultServer:
    """A chat server at http://127.0.0.1:PORT/<fault>/v1 that answers with that fault."""

    port: int = 0
    #: Set when the server stops: a stalled answer waits on it.
    release: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: fault -> replies to give before the test's own answer (e.g. garbage, then a valid one)
    script: dict[str, list[Any]] = field(default_factory=dict)

    def url(self, fault: str) -> str:
        return f"http://127.0.0.1:{self.port}/{fault}/v1"

    def decisions(self) -> list[dict[str, Any]]:
        """The requests that asked for JSON (a policy's warm-up has no response_format)."""
        return [r for r in self.requests if "response_format" in r]

    async def stall(self) -> None:
        """Wait until the server stops (at most a minute)."""
        await asyncio.wait_for(self.release.wait(), 60)


Answer = Callable[[FaultServer, str], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def fault_server(answer: Answer) -> AsyncIterator[FaultServer]:
    """Serve `answer(server, fault)` on 127.0.0.1 (scripted replies first); every
    request body is kept in `server.requests`."""
    server = FaultServer()

    async def chat(request: web.Request) -> web.StreamResponse:
        server.requests.append(await request.json())
        fault = request.match_info["fault"]
        if server.script.get(fault):
            return web.json_response(server.script[fault].pop(0))
        return await answer(server, fault)

    app = web.Application()
    app.router.add_post("/{fault}/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        server.port = int(runner.addresses[0][1])
        yield server
    finally:
        server.release.set()
        await runner.cleanup()
