"""The LLM backend contract: every `Backend` of the bundled LLM server answers alike.

`reference_agent.llm_server.Backend` is what answers a chat completion once the
server has read the request; `load_backend(name)` loads one of `BACKENDS`: the
domain model (`DomainBackend`) and SmolLM2 on llama.cpp (`Smollm2Backend`,
skipped when `make llm` has not installed it). Each one, served on 127.0.0.1
and asked through the official `openai` client:

- names one model, in `/v1/models`, in the server's `model` and in every reply;
- answers a plain request with one non-empty assistant message, finish
  reason `stop`, and usage that adds up;
- streams the same shape over SSE: the role first, then content pieces, then
  one `stop`;
- keeps serving after a client leaves in the middle of a stream;
- sits behind the server's request checks (a malformed request is a 400).

What only one backend does (the domain model's tool calls and exact replies,
SmolLM2's max_tokens, grammar and one-at-a-time generation) stays in
test_llm_server.py and test_smollm2.py.

A new backend is added by passing this contract: name it in
`llm_server.BACKENDS`, load it in `llm_server.load_backend`, and add it to
`KINDS` here (with a skip mark if it needs an optional install).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from reference_agent import smollm2
from reference_agent.llm_server import BACKENDS, LlmServer, start_llm_server

KINDS = [
    "domain",
    pytest.param(
        "smollm2",
        marks=pytest.mark.skipif(not smollm2.available(), reason="SmolLM2 not installed: make llm"),
    ),
]
ASK: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are a phone agent for appointments and orders."},
    {"role": "user", "content": "Where is my order one two three four?"},
]
#: Short replies keep the real model's share of a busy 2-core box small.
MAX_TOKENS = 12


def test_every_backend_is_in_the_contract() -> None:
    assert set(BACKENDS) == {"domain", "smollm2"}


@pytest.fixture(params=KINDS)
async def server(request: pytest.FixtureRequest) -> AsyncIterator[LlmServer]:
    """The server with each backend (the conftest's `client` asks it)."""
    srv = await start_llm_server(port=0, backend=request.param)
    try:
        yield srv
    finally:
        await srv.close()


async def test_the_backend_names_one_model_everywhere(
    server: LlmServer, client: AsyncOpenAI
) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == [server.model]
    reply = await client.chat.completions.create(
        model=server.model, messages=ASK, max_tokens=MAX_TOKENS
    )
    assert reply.model == server.model


async def test_a_plain_request_gets_one_assistant_message(
    server: LlmServer, client: AsyncOpenAI
) -> None:
    reply = await client.chat.completions.create(
        model=server.model, messages=ASK, max_tokens=MAX_TOKENS, temperature=0
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert (choice.message.content or "").strip()
    assert choice.finish_reason == "stop"
    usage = reply.usage
    assert usage is not None and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_a_streamed_request_gets_role_pieces_then_stop(
    server: LlmServer, client: AsyncOpenAI
) -> None:
    stream = await client.chat.completions.create(
        model=server.model, messages=ASK, max_tokens=MAX_TOKENS, temperature=0, stream=True
    )
    roles, pieces, finishes, models = [], [], [], set()
    async for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        models.add(chunk.model)
        choice = chunk.choices[0]
        roles.append(choice.delta.role)
        if choice.delta.content:
            pieces.append(choice.delta.content)
        finishes.append(choice.finish_reason)
    assert roles[0] == "assistant"
    assert "".join(pieces).strip()
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert models == {server.model}


async def test_a_client_leaving_mid_stream_leaves_the_server_answering(
    server: LlmServer, client: AsyncOpenAI
) -> None:
    stream = await client.chat.completions.create(
        model=server.model, messages=ASK, max_tokens=MAX_TOKENS, stream=True
    )
    async for _ in stream:
        break  # the first chunk, then gone (a barge-in)
    await stream.close()
    reply = await client.chat.completions.create(
        model=server.model, messages=ASK, max_tokens=MAX_TOKENS
    )
    assert (reply.choices[0].message.content or "").strip()


async def test_a_malformed_request_is_a_400(server: LlmServer, client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model=server.model, messages="hello")  # type: ignore[arg-type]
