"""The bundled domain: appointments and orders, as a small deterministic model.

The reference agents need something to talk about that works offline, costs
nothing and gives the same answer every time, so that latency and WER figures
measure the voice pipeline and not an LLM's mood. This package is that "LLM":

    words.py    the caller's words normalised; day, time and order number found in them
    phrases.py  what the agent says (a table of named replies) and what callers say
                (`CALLER_PHRASES`, which trains the STT language model)
    policy.py   the dialogue policy: an ordered table of intents over one turn,
                the slots kept across turns, the tool call a turn asks for
    chat.py     OpenAI-style chat history in, the next reply or tool call out

Every caller turn is replayed over the whole history, so later turns can
change earlier ones ("make it Wednesday instead").
"""

from __future__ import annotations

from reference_agent.domain.chat import facts, order_status, reply, respond, seeded_orders
from reference_agent.domain.phrases import CALLER_PHRASES, GREETING, SORRY, TRANSFER
from reference_agent.domain.policy import Action
from reference_agent.domain.words import normalize

__all__ = [
    "CALLER_PHRASES",
    "GREETING",
    "SORRY",
    "TRANSFER",
    "Action",
    "facts",
    "normalize",
    "order_status",
    "reply",
    "respond",
    "seeded_orders",
]
