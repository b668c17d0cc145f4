"""The offline LLM server speaks OpenAI's chat-completions protocol, for real (with the
domain model; what every backend does is test_llm_backend_contract.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from reference_agent import domain
from reference_agent.llm_server import MAX_BODY_BYTES, MODEL, LlmServer, start_llm_server

HISTORY: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are a phone agent."},
    {"role": "user", "content": "I would like to book an appointment for Tuesday at three pm"},
    {"role": "assistant", "content": "Sure. I have booked you for Tuesday at three pm."},
    {"role": "user", "content": "Make it Wednesday instead"},
]


@pytest.fixture
async def server() -> AsyncIterator[LlmServer]:
    srv = await start_llm_server(port=0)
    try:
        yield srv
    finally:
        await srv.close()


async def test_binds_loopback_on_a_free_port(server: LlmServer) -> None:
    assert server.port > 0
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"


async def test_streamed_deltas_add_up_to_the_domain_reply(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=HISTORY,
        stream=True,
    )
    roles, pieces, finishes = [], [], []
    async for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        choice = chunk.choices[0]
        roles.append(choice.delta.role)
        if choice.delta.content:
            pieces.append(choice.delta.content)
        finishes.append(choice.finish_reason)
    expected = domain.reply(HISTORY)
    assert "".join(pieces) == expected
    assert roles[0] == "assistant"
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    # One word per chunk, each after the first carrying its leading space.
    assert len(pieces) == len(expected.split())
    assert all(p.startswith(" ") for p in pieces[1:])


async def test_non_streaming_completion(client: AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=HISTORY,
    )
    assert completion.choices[0].message.content == domain.reply(HISTORY)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0


async def test_models_lists_the_domain_model(client: AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == [MODEL]


async def test_oversize_body_is_rejected_with_413(server: LlmServer) -> None:
    huge = "x" * (MAX_BODY_BYTES + 1)
    body = {"model": MODEL, "messages": [{"role": "user", "content": huge}]}
    async with aiohttp.ClientSession() as session:
        url = f"{server.base_url}/chat/completions"
        async with session.post(url, json=body) as response:
            assert response.status == 413


async def test_offered_tools_come_back_as_streamed_openai_tool_calls(client: AsyncOpenAI) -> None:
    from reference_agent.tools.specs import TOOLS

    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Where is my order one two three four"}],
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
    )
    name, arguments, finish = "", "", None
    async for chunk in stream:
        choice = chunk.choices[0]
        assert not choice.delta.content
        for piece in choice.delta.tool_calls or []:
            assert piece.index == 0
            if piece.function is not None:
                name += piece.function.name or ""
                arguments += piece.function.arguments or ""
        finish = choice.finish_reason or finish
    assert (name, arguments, finish) == ("get_order_status", '{"order": "1234"}', "tool_calls")


async def test_after_the_tool_result_the_reply_uses_it(client: AsyncOpenAI) -> None:
    from reference_agent.tools.specs import TOOLS

    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_order_status", "arguments": '{"order": "1234"}'},
    }
    reply = await client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "Where is my order one two three four"},
            {"role": "assistant", "content": None, "tool_calls": [call]},  # type: ignore[list-item]
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": '{"ok": true, "status": "is lost"}',
            },
        ],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    assert reply.choices[0].message.content == (
        "Okay. Order one two three four is lost. Is there anything else?"
    )


async def test_without_tools_the_reply_is_plain_text(client: AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Where is my order one two three four"}]
    )
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].message.content == domain.reply(
        [{"role": "user", "content": "Where is my order one two three four"}]
    )
