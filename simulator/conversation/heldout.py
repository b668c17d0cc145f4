"""Agent sentences held out of everything voxsim's agents say: the caller's ears' test set.

What a phone agent says (asking for facts, offering and confirming times,
order status, wrapping up), in words none of the bundled agent's replies
(reference_agent/domain/) contain, numbers written as they are spoken.
tests/simulator/conversation/test_whisper.py bounds the recognizer's WER on
them and benchmarks/ears.py measures it per voice and channel (BENCHMARKS.md,
"Caller ears (goal-driven callers)").
"""

from __future__ import annotations

import numpy as np

from simulator.audio import Pcm

#: Voices the ears are measured on: eSpeak NG US, British, Scottish, the bundled
#: agent's own voice (en-US+f2 at 185 wpm), and Piper's natural US voice "joe".
VOICES = ("en-us", "en", "en-gb-scotland", "en-US+f2", "joe")
#: Silence around each sentence (200 ms each side), as an agent's turn arrives.
PAD_SAMPLES = 3200

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


def render(voice: str) -> list[Pcm]:
    """`AGENT_SENTENCES` spoken by `voice` (eSpeak NG at 175 wpm, en-US+f2 at 185, or
    Piper "joe"), each with `PAD_SAMPLES` of silence both sides. eSpeak keeps state
    between utterances: call this in a fresh process for byte-identical audio."""
    from simulator.caller.tts import Speech, synthesize

    pad = np.zeros(PAD_SAMPLES, np.int16)
    out: list[Pcm] = []
    for i, text in enumerate(AGENT_SENTENCES):
        speech: Speech
        if voice == "joe":
            from simulator.caller.piper_tts import synthesize_piper

            speech = synthesize_piper(text)
        else:
            speech = synthesize(text, voice, 185 if voice == "en-US+f2" else 175, seed=i)
        out.append(np.concatenate([pad, speech.pcm, pad]))
    return out


def telephone(pcm: Pcm, seed: int = 0) -> Pcm:
    """`pcm` through the default telephone line (`Channel()`: 8 kHz, 300-3400 Hz,
    G.711 mu-law, no loss), back at 16 kHz."""
    from simulator.caller.channel import ChannelStage
    from simulator.caller.truth import Truth
    from simulator.scenario import Channel

    truth = Truth(0, len(pcm), "", "")
    return ChannelStage(Channel()).render(pcm, truth, np.random.default_rng(seed))[0]
