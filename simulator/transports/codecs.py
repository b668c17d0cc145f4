"""Wire formats the transports translate to and from voxsim's 16 kHz PCM.

Twilio carries 8 kHz G.711 mu-law and OpenAI Realtime 24 kHz PCM16; voxsim
works at 16 kHz. Resampling is streaming (filter state carried across frames)
so frame edges add no clicks; G.711 comes from the standard library's
`audioop` (the `audioop-lts` package on Python >= 3.13).
"""

from __future__ import annotations

import base64
import warnings
from math import gcd

import numpy as np
from scipy import signal

from simulator.audio import Pcm

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


class StreamResampler:
    """Polyphase resampling of a stream by `dst/src`, chunk by chunk, with state.

    Output length over the whole stream is exact (n * dst / src); each chunk
    yields whatever samples are complete.
    """

    def __init__(self, src: int, dst: int, taps: int = 96) -> None:
        g = gcd(src, dst)
        self.up, self.down = dst // g, src // g
        cutoff = 1.0 / max(self.up, self.down)
        self._h = signal.firwin(taps * max(self.up, 1) | 1, cutoff * 0.92) * self.up
        self._zi = np.zeros(len(self._h) - 1)
        self._phase = 0  # index in the upsampled stream of the next kept sample

    def __call__(self, pcm: Pcm) -> Pcm:
        """Resample one chunk (int16 in, int16 out)."""
        if self.up == self.down or len(pcm) == 0:  # an empty chunk: nothing, state kept
            return pcm.astype(np.int16, copy=True)
        x = pcm.astype(np.float64)
        if self.up > 1:
            stuffed = np.zeros(len(x) * self.up)
            stuffed[:: self.up] = x
            x = stuffed
        y, self._zi = signal.lfilter(self._h, 1.0, x, zi=self._zi)
        kept = y[self._phase :: self.down]
        self._phase = (self._phase - len(y)) % self.down
        return np.clip(np.round(kept), -32768, 32767).astype(np.int16)


def ulaw_encode(pcm: Pcm) -> bytes:
    """G.711 mu-law bytes of int16 samples (one byte a sample)."""
    return audioop.lin2ulaw(pcm.astype("<i2").tobytes(), 2)


def ulaw_decode(data: bytes) -> Pcm:
    """int16 samples of G.711 mu-law bytes."""
    return np.frombuffer(audioop.ulaw2lin(data, 2), dtype="<i2").astype(np.int16)


def b64(data: bytes) -> str:
    """Base64 text, as JSON protocols carry audio."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Inverse of `b64`; raises ValueError on bad input."""
    return base64.b64decode(text, validate=True)
