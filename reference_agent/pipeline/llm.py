"""LLM client: the `openai` SDK against any OpenAI-compatible server, streamed.

The bundled server (reference_agent/llm_server.py) is the offline default;
point `base_url` at vLLM, llama.cpp's server or OpenAI to swap it. Tokens are
grouped into sentences so TTS can start on the first one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

from openai import AsyncOpenAI

_SENTENCE_END = re.compile(r"([.!?])(\s+|$)")


@dataclass(frozen=True)
class ToolCallRequest:
    """One tool call as the model streamed it; `arguments` is its JSON text."""

    id: str
    name: str
    arguments: str

    def parsed(self) -> dict[str, Any]:
        """The arguments as a dict ({} when the model sent invalid JSON)."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def message(self) -> dict[str, Any]:
        """This call as an entry of an assistant message's `tool_calls`."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


class LlmClient:
    """Streams a chat completion and yields its sentences as they complete."""

    def __init__(
        self, base_url: str, model: str = "voxsim-domain", api_key: str | None = None
    ) -> None:
        """`api_key`: by default $OPENAI_API_KEY (for OpenAI itself), else a placeholder
        that local servers (the bundled one, vLLM, llama.cpp's) ignore."""
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or "local"
        self.model = model
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

    async def sentences(
        self, messages: list[dict[str, Any]], on_first_token: Callable[[], None] | None = None
    ) -> AsyncIterator[str]:
        """Yield complete sentences of the reply as soon as each one is complete.

        `on_first_token` is called when the first content token arrives (TTFT).
        """
        async for item in self.stream(messages, None, on_first_token):
            if isinstance(item, str):
                yield item

    async def stream(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        on_first_token: Callable[[], None] | None = None,
    ) -> AsyncIterator[str | ToolCallRequest]:
        """Yield reply sentences as they complete, then any tool calls the model made.

        Tool-call deltas arrive in pieces keyed by `index` (OpenAI's stream
        format); they are assembled and yielded once the stream ends.
        """
        kwargs: dict[str, Any] = {"tools": tools} if tools else {}
        stream = await self._client.chat.completions.create(
            model=self.model, messages=cast(Any, messages), stream=True, **kwargs
        )
        buffer = ""
        calls: dict[int, dict[str, str]] = {}
        async for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            for piece in delta.tool_calls or []:
                if on_first_token is not None:
                    on_first_token()
                    on_first_token = None
                call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = piece.id or call["id"]
                if piece.function is not None:
                    call["name"] += piece.function.name or ""
                    call["arguments"] += piece.function.arguments or ""
            text = delta.content or ""
            if text and on_first_token is not None:
                on_first_token()
                on_first_token = None
            buffer += text
            while True:
                m = _SENTENCE_END.search(buffer)
                if m is None:
                    break
                sentence, buffer = buffer[: m.end(1)].strip(), buffer[m.end() :]
                if sentence:
                    yield sentence
        if buffer.strip():
            yield buffer.strip()
        for index in sorted(calls):
            c = calls[index]
            yield ToolCallRequest(id=c["id"], name=c["name"], arguments=c["arguments"])

    async def close(self) -> None:
        """Release the HTTP connection pool."""
        await self._client.close()
