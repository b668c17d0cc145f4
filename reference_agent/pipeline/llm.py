"""LLM client: the `openai` SDK against any OpenAI-compatible server, streamed.

The bundled server (reference_agent/llm_server.py) is the offline default;
point `base_url` at vLLM, llama.cpp's server or OpenAI to swap it. Tokens are
grouped into sentences so TTS can start on the first one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from openai import AsyncOpenAI

_SENTENCE_END = re.compile(r"([.!?])(\s+|$)")


class LlmClient:
    """Streams a chat completion and yields its sentences as they complete."""

    def __init__(self, base_url: str, model: str = "voxsim-domain", api_key: str = "local") -> None:
        self.model = model
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

    async def sentences(
        self, messages: list[dict[str, Any]], on_first_token: Callable[[], None] | None = None
    ) -> AsyncIterator[str]:
        """Yield complete sentences of the reply as soon as each one is complete.

        `on_first_token` is called when the first content token arrives (TTFT).
        """
        stream = await self._client.chat.completions.create(
            model=self.model,
            messages=cast(Any, messages),
            stream=True,
        )
        buffer = ""
        async for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta.content or ""
            if delta and on_first_token is not None:
                on_first_token()
                on_first_token = None
            buffer += delta
            while True:
                m = _SENTENCE_END.search(buffer)
                if m is None:
                    break
                sentence, buffer = buffer[: m.end(1)].strip(), buffer[m.end() :]
                if sentence:
                    yield sentence
        if buffer.strip():
            yield buffer.strip()

    async def close(self) -> None:
        """Release the HTTP connection pool."""
        await self._client.close()
