"""A long call's context stays under budget and old facts survive summarisation."""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI

from reference_agent.llm_server import MODEL, LlmServer
from reference_agent.state.context import ContextPolicy, build_context, count_tokens

FILLER = [
    "hello",
    "yes please",
    "thank you",
    "can you say that again",
    "what time is my appointment",
]


async def test_a_40_turn_call_stays_under_budget_and_uses_a_fact_from_turn_2(
    llm: LlmServer,
) -> None:
    policy = ContextPolicy(budget_tokens=140, recent_turns=6, chunk_turns=8, max_gists=3)
    caller = ["hello", "my order number is one two three four"]
    caller += [FILLER[i % len(FILLER)] for i in range(35)]
    caller += ["i want a refund for my order", "thank you goodbye", "bye"]
    assert len(caller) == 40
    history: list[dict[str, Any]] = [{"role": "system", "content": "You are a phone agent."}]
    sizes: list[int] = []
    replies: list[str] = []
    client = AsyncOpenAI(base_url=llm.base_url, api_key="x", max_retries=0)
    try:
        for said in caller:
            history.append({"role": "user", "content": said})
            context = build_context(history, policy)
            sizes.append(count_tokens(context))
            out = await client.chat.completions.create(model=MODEL, messages=context)  # type: ignore[arg-type]
            reply = out.choices[0].message.content or ""
            history.append({"role": "assistant", "content": reply})
            replies.append(reply)
    finally:
        await client.close()

    assert count_tokens(history) > 3 * policy.budget_tokens  # the call really outgrew it
    assert max(sizes) <= policy.budget_tokens
    # Turn 38 asks for a refund without the number; only turn 2 said it.
    context_38 = build_context(history[: 1 + 2 * 37 + 1], policy)
    assert not any(
        "one two three four" in str(m["content"]) for m in context_38 if m["role"] == "user"
    )
    assert (
        replies[37]
        == "Okay. I have started a refund for order one two three four. Is there anything else?"
    )


def test_the_summary_is_hierarchical() -> None:
    history = [{"role": "system", "content": "sys"}]
    for i in range(40):
        history += [
            {"role": "user", "content": f"turn {i} " + "word " * 10},
            {"role": "assistant", "content": "reply " * 10},
        ]
    context = build_context(history, ContextPolicy(budget_tokens=250, recent_turns=4))
    summary = context[1]["content"].splitlines()
    assert summary[0].startswith("Known facts:")
    gists = [line for line in summary if line.startswith("- ")]
    assert len(gists) == 3 and gists[0].startswith("- turns 1-")  # old chunks merged into one
    assert context[0]["content"] == "sys" and context[-1]["content"].startswith("reply")
    assert count_tokens(context) <= 250


def test_a_short_call_is_sent_whole() -> None:
    history = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]
    assert build_context(history) == history
