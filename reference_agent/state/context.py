"""What the LLM sees of a call: recent turns verbatim, older ones summarised, within a budget.

Sending the whole history makes every turn slower and dearer as a call goes
on, and a long call eventually overflows the model's window. So the prompt
is: the system prompt, one summary message, then the last turns verbatim.
The summary is hierarchical: older turns are summarised in chunks of
`chunk_turns` (a gist line each: what the caller asked, which tools ran);
once there are more than `max_gists` chunk gists, the oldest are merged into
one line; and a facts line carries the state the whole past established
(the bundled domain model reads it back, a real LLM reads it as text). If the
prompt is still over `budget_tokens`, fewer turns are kept verbatim.

Tokens are counted as whitespace-separated words (a stand-in for the model's
tokenizer: BPE counts run ~1.3x higher; size the budget accordingly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reference_agent import domain

Message = dict[str, Any]


def count_tokens(messages: Sequence[Message]) -> int:
    """Whitespace tokens of every message's text and tool-call arguments."""
    total = 0
    for m in messages:
        total += len(str(m.get("content") or "").split())
        for call in m.get("tool_calls") or []:
            fn = call.get("function", {})
            total += 1 + len(str(fn.get("arguments", "")).split())
    return total


@dataclass(frozen=True)
class ContextPolicy:
    """How much history goes to the LLM verbatim, and the budget of the whole prompt."""

    budget_tokens: int = 300
    recent_turns: int = 6
    chunk_turns: int = 8
    max_gists: int = 3


def _turns(messages: Sequence[Message]) -> list[list[Message]]:
    """Group messages into turns, each starting at a user message."""
    turns: list[list[Message]] = []
    for m in messages:
        if m.get("role") == "user" or not turns:
            turns.append([])
        turns[-1].append(m)
    return turns


def _gist(turns: Sequence[list[Message]]) -> str:
    """One line for a chunk of turns: the caller's words, shortened, and the tools that ran."""
    asked = []
    tools = []
    for turn in turns:
        for m in turn:
            if m.get("role") == "user":
                asked.append(" ".join(str(m.get("content") or "").split()[:6]))
            for call in m.get("tool_calls") or []:
                tools.append(str(call.get("function", {}).get("name", "")))
    line = "caller: " + " / ".join(a for a in asked if a)
    return line + (f"; tools: {', '.join(tools)}" if tools else "")


def build_context(history: Sequence[Message], policy: ContextPolicy | None = None) -> list[Message]:
    """The messages to send the LLM for `history` (system prompt first, if any)."""
    policy = policy or ContextPolicy()
    if count_tokens(history) <= policy.budget_tokens:
        return list(history)
    head = [history[0]] if history and history[0].get("role") == "system" else []
    turns = _turns(history[len(head) :])
    keep = min(policy.recent_turns, len(turns))
    while True:
        older, recent = turns[: len(turns) - keep], turns[len(turns) - keep :]
        prompt = head + _summary(older, policy) + [m for t in recent for m in t]
        if count_tokens(prompt) <= policy.budget_tokens or keep <= 1:
            return prompt
        keep -= 1


def _summary(older: Sequence[list[Message]], policy: ContextPolicy) -> list[Message]:
    if not older:
        return []
    chunks = [older[i : i + policy.chunk_turns] for i in range(0, len(older), policy.chunk_turns)]
    gists = [_gist(c) for c in chunks]
    if len(gists) > policy.max_gists:
        merged = chunks[: len(chunks) - policy.max_gists + 1]
        last = sum(len(c) for c in merged)
        tools = sorted({n for c in merged for t in c for n in _tool_names(t)})
        gists = [f"turns 1-{last}: {len(tools)} kinds of tool ran ({', '.join(tools)})"] + gists[
            len(merged) :
        ]
    facts = domain.facts([m for t in older for m in t])
    lines = [facts, "Earlier in the call:", *(f"- {g}" for g in gists)]
    return [{"role": "system", "content": "\n".join(lines)}]


def _tool_names(turn: Sequence[Message]) -> list[str]:
    return [
        str(call.get("function", {}).get("name", ""))
        for m in turn
        for call in (m.get("tool_calls") or [])
    ]
