"""Wire formats the transports translate to and from voxsim's 16 kHz PCM.

Twilio carries 8 kHz G.711 mu-law and OpenAI Realtime 24 kHz PCM16; voxsim
works at 16 kHz. Resampling is streaming (filter state carried across frames)
so frame edges add no clicks; G.711 comes from the standard library's
`audioop` (the `audioop-lts` package on Python >= 3.13).
"""

from __future__ import annotations

import base64
import warnings
from functools import cache
from math import gcd

import numpy as np
import numpy.typing as npt
from scipy import signal

from simulator.audio import Pcm

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


class StreamResampler:
    """Polyphase resampling of a stream by `dst/src`, chunk by chunk, with state.

    Output length over the whole stream is exact (n * dst / src); each chunk
    yields whatever samples are complete. Only the kept outputs are computed:
    each is one dot product of a sub-filter of the FIR with the last input
    samples (a strided view of the chunk behind the kept history, no copy), so
    a 20 ms frame costs a few numpy calls, not a zero-stuffed `lfilter` over
    the whole upsampled chunk, and a frame of zeros after zeros costs none. The
    result equals that `lfilter` form sample for sample
    (tests/simulator/transports/test_codecs.py keeps it as the reference).
    """

    def __init__(self, src: int, dst: int, taps: int = 96) -> None:
        g = gcd(src, dst)
        self.up, self.down = dst // g, src // g
        self._bank = _filter_bank(self.up, self.down, taps)
        self._bank_t = np.ascontiguousarray(self._bank.T)  # all sub-filters in one product
        self._span = self._bank.shape[1]  # input samples under one output
        self._hist = np.zeros(self._span - 1)  # the last span - 1 inputs, oldest first
        self._phase = 0  # index in the upsampled stream of the next kept sample
        self._silent = True  # the history is all zeros

    def __call__(self, pcm: Pcm) -> Pcm:
        """Resample one chunk (int16 in, int16 out)."""
        n_in = len(pcm)
        if self.up == self.down or n_in == 0:  # an empty chunk: nothing, state kept
            return pcm.astype(np.int16, copy=True)
        span, phase = self._span, self._phase
        total = n_in * self.up  # this chunk's length in the upsampled stream
        n_out = max(-(-(total - phase) // self.down), 0)  # kept: phase, phase + down, ...
        self._phase = (phase - total) % self.down
        if not np.count_nonzero(pcm) and (self._silent or not np.count_nonzero(self._hist)):
            # Zeros after zeros (a caller's line between turns): every output is 0 exactly,
            # and the history stays zeros.
            self._silent = True
            return np.zeros(n_out, np.int16)
        self._silent = False
        buf = np.empty(span - 1 + n_in)  # buf[q + span - 1] is input q of this chunk
        buf[: span - 1] = self._hist
        buf[span - 1 :] = pcm
        self._hist = buf[n_in:]
        out = self._filter(buf, phase, n_out)
        np.rint(out, out=out)
        np.minimum(out, 32767, out=out)
        np.maximum(out, -32768, out=out)
        return out.astype(np.int16)

    def _filter(
        self, buf: npt.NDArray[np.float64], phase: int, n_out: int
    ) -> npt.NDArray[np.float64]:
        """The kept upsampled samples m = phase, phase + down, ...: sample m is sub-filter
        m mod up dotted with the inputs ending at m // up."""
        up, down = self.up, self.down
        if up == 1:  # decimation: one sub-filter over every down-th window
            return np.dot(self._windows(buf, phase, n_out, down), self._bank[0])
        if down == 1:  # interpolation (phase 0): every window through all up sub-filters
            return np.dot(self._windows(buf, 0, n_out // up, 1), self._bank_t).ravel()
        out = np.empty(n_out)
        for first in range(min(up, n_out)):
            # Outputs first, first + up, ... share a sub-filter and step `down` inputs.
            q, r = divmod(phase + first * down, up)
            rows = -(-(n_out - first) // up)
            out[first::up] = np.dot(self._windows(buf, q, rows, down), self._bank[r])
        return out

    def _windows(
        self, buf: npt.NDArray[np.float64], start: int, rows: int, step: int
    ) -> npt.NDArray[np.float64]:
        """Row i is buf[start + i * step :][:span], the inputs under one output: a view."""
        return np.ndarray((rows, self._span), np.float64, buf, start * 8, (step * 8, 8))


@cache
def _filter_bank(up: int, down: int, taps: int) -> npt.NDArray[np.float64]:
    """The anti-aliasing FIR for `up/down` split into `up` sub-filters, each reversed so
    row r dotted with inputs (oldest first) gives an upsampled sample at index r mod up.

    The FIR is `taps * up | 1` long, cut off at 0.92 of the lower Nyquist, with gain `up`
    (the zero-stuffed samples carry no energy). Shared, read-only.
    """
    h = signal.firwin(taps * max(up, 1) | 1, (1.0 / max(up, down)) * 0.92) * up
    span = -(-len(h) // up)
    padded = np.zeros(span * up)
    padded[: len(h)] = h
    bank = np.ascontiguousarray(padded.reshape(span, up).T[:, ::-1])
    bank.setflags(write=False)
    return bank


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
