"""Received WebRTC audio decoded on the event loop instead of aiortc's decoder thread.

aiortc's `RTCRtpReceiver.receive()` starts one thread per receiver; the
receiver puts each complete `(codec, encoded frame)` on a `queue.Queue`, the
thread decodes it and hands every decoded frame back to the track with
`asyncio.run_coroutine_threadsafe`: per 20 ms frame a thread hop, a coroutine
and a loop wakeup, for an Opus decode of ~20 us. With many callers in one
process that hand-off, not the decoding, was most of the receive side's cost
(benchmarks/harness_capacity.py; numbers in BENCHMARKS.md).

`decode_inline(receiver)` swaps the receiver's queue (the private
`_RTCRtpReceiver__decoder_queue`, created in `__init__` and used the same way
from aiortc 1.9 to 1.16 and main as of 2026-07) for an `InlineDecoder`:
`put()` decodes at once, with aiortc's own decoder for the codec, and queues
the frames on the track, so the audio and its stamps are what the thread made
of it. The thread still starts and idles in `get()` until aiortc's stop puts
`None`; it then ends the track as before. A subclass of the receiver cannot
be slotted in (the peer connection constructs `RTCRtpReceiver` by name), and
replacing the module's `decoder_worker` would change every receiver in the
process, an agent's too. If the attribute is missing (another aiortc) the
receiver keeps aiortc's thread and one warning is logged;
tests/simulator/transports/test_webrtc_decode.py fails if that happens with
the pinned aiortc.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import aiortc
import av
from aiortc import RTCRtpReceiver
from aiortc.codecs import get_decoder

logger = logging.getLogger(__name__)

_QUEUE = "_RTCRtpReceiver__decoder_queue"
_THREAD = "_RTCRtpReceiver__decoder_thread"
_ERROR = "_RTCRtpReceiver__decoder_error"  # aiortc >= 1.13: a decode error asks video for a PLI
_warned = False


class InlineDecoder:
    """Stands in for a receiver's decoder queue: `put` decodes on the caller's thread.

    `frames` counts the decoded frames handed to the track this way.
    """

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self._receiver = receiver
        self._decoder: Any = None
        self._codec_name: str | None = None
        self._stopped = threading.Event()
        self.frames = 0

    def put(self, task: Any) -> None:
        """A `(codec, encoded frame)` from the receiver, or `None`: aiortc stops."""
        if task is None:
            self._stopped.set()
            return
        codec, encoded_frame = task
        if codec.name != self._codec_name:
            self._decoder = get_decoder(codec)
            self._codec_name = codec.name
        try:
            frames = self._decoder.decode(encoded_frame)
        except av.FFmpegError as exc:  # as aiortc: log, keep the decoder's state, go on
            logger.warning("inline decoder: failed to decode %s frame: %s", codec.name, exc)
            error = getattr(self._receiver, _ERROR, None)
            if error is not None:
                error.set()
            return
        track_queue = self._receiver._track._queue  # type: ignore[union-attr]
        for frame in frames:
            track_queue.put_nowait(frame)
        self.frames += len(frames)

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        """aiortc's decoder thread waits here for the stop, then ends the track."""
        self._stopped.wait()


def decode_inline(receiver: RTCRtpReceiver) -> InlineDecoder | None:
    """Decode what `receiver` gets on the event loop; call before the connection starts
    receiving. None (aiortc's thread decodes, as stock) if this aiortc has no such queue
    or the receiver already started."""
    global _warned
    if isinstance(getattr(receiver, _QUEUE, None), queue.Queue) and not getattr(
        receiver, _THREAD, True
    ):
        inline = InlineDecoder(receiver)
        setattr(receiver, _QUEUE, inline)
        return inline
    if not _warned:
        _warned = True
        logger.warning(
            "aiortc %s: no decoder queue to replace; received audio is decoded on "
            "aiortc's thread (more CPU per caller)",
            getattr(aiortc, "__version__", "?"),
        )
    return None
