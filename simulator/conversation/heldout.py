"""Agent sentences held out of everything voxsim's agents say: the caller's ears' test set.

What a phone agent says (asking for facts, offering and confirming times,
order status, wrapping up), in words none of the bundled agent's replies
(reference_agent/domain.py) contain, numbers written as they are spoken.
tests/simulator/conversation/test_whisper.py bounds the recognizer's WER on
them and benchmarks/ears.py measures it per voice and channel (BENCHMARKS.md,
"Caller ears (goal-driven callers)").
"""

from __future__ import annotations

AGENT_SENTENCES: list[str] = [
    "Can I have your name first, please?",
    "What time on Wednesday works for you?",
    "I have booked you for Thursday at ten thirty.",
    "Is there anything else I can help with?",
    "Your order has shipped and should arrive on Friday.",
    "Could you spell your last name for me?",
    "We are open from nine in the morning until six in the evening.",
    "Let me check that for you, one moment please.",
    "The earliest slot I have is Monday at two fifteen.",
    "Would you like a confirmation by text message?",
    "I am sorry, that time is already taken.",
    "Thanks for your patience, have a lovely day.",
]
