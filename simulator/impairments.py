"""Network impairments between caller and agent, per direction, in user space.

The kernel's netem is not available on these machines, so voxsim degrades the
link itself, identically on every transport: each message (a 20 ms audio frame
or a control event) that crosses the link is given a delivery time by a seeded
model of one direction (`LinkModel`), and an `ImpairedTransport` wraps any
Transport to hold messages until then. See docs/impairments.md for the model.

The model is true to the transport underneath:
- unreliable (UDP, WebRTC): a lost packet is gone; a packet that misses its
  slot in the receiver's jitter buffer is dropped too;
- reliable (TCP: WebSocket, Twilio, Realtime): a loss is a retransmission
  after an RTO, and every later packet waits behind it (head-of-line
  blocking); nothing is ever missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.audio import Pcm
from simulator.transports.base import AudioIn, EventIn, Incoming, StartInfo, Transport

#: Linux's minimum TCP retransmission timeout; the retransmitted copy also
#: crosses the link again, so a loss costs at least this plus one one-way delay.
MIN_RTO_MS = 200.0


@dataclass(frozen=True)
class LinkSpec:
    """One direction of the network, as in a scenario's `network.uplink`."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0  # standard deviation of the one-way delay
    loss: float = 0.0  # long-run packet loss probability
    burst: float = 1.0  # mean loss burst length in packets (1 = independent losses)
    kbps: float | None = None  # bandwidth cap; None = unlimited
    jitter_buffer_ms: float | None = None  # receiver buffer; None = 3 x jitter_ms

    @property
    def idle(self) -> bool:
        """True when this direction changes nothing."""
        return self.delay_ms == 0 and self.jitter_ms == 0 and self.loss == 0 and self.kbps is None

    @property
    def buffer_ms(self) -> float:
        """Depth of the receiver's jitter buffer beyond the nominal delay."""
        if self.jitter_buffer_ms is not None:
            return self.jitter_buffer_ms
        return 3.0 * self.jitter_ms


class GilbertElliott:
    """Two-state bursty loss: Good never loses, Bad always does.

    With mean burst length b (packets) and loss rate p, the chain leaves Bad
    with probability r = 1/b and enters it with q = p*r/(1-p), so the
    stationary loss rate is q/(q+r) = p and runs of losses average b. b = 1
    gives independent (Bernoulli) losses with rate p.
    """

    def __init__(self, loss: float, burst: float, rng: np.random.Generator) -> None:
        self.rng = rng
        self.loss = loss
        self.r = 1.0 / max(burst, 1.0)
        self.q = loss * self.r / (1.0 - loss) if loss < 1 else 1.0
        self.bad = bool(rng.random() < loss)

    def lost(self) -> bool:
        """Advance one packet; True when it is lost."""
        if self.loss <= 0:
            return False
        if self.bad:
            self.bad = not (self.rng.random() < self.r)
        else:
            self.bad = bool(self.rng.random() < self.q)
        return self.bad


@dataclass(frozen=True)
class Fate:
    """What the link did to one packet (times in seconds on the sender's clock)."""

    sent: float
    arrival: float | None  # first arrival at the receiver (None = lost for good)
    deliver: float | None  # handed to the application (None = dropped)
    lost: bool  # lost at least once on the wire
    late: bool = False  # arrived after its jitter-buffer slot (unreliable only)


class LinkModel:
    """Delivery times for the packets of one direction, in send order.

    Pure and seeded: the same spec, seed and send times give the same fates,
    so the statistics tests run in virtual time.
    """

    def __init__(self, spec: LinkSpec, *, reliable: bool, seed: int) -> None:
        self.spec = spec
        self.reliable = reliable
        self.rng = np.random.default_rng(seed)
        self.loss = GilbertElliott(spec.loss, spec.burst, self.rng)
        self._link_free = 0.0  # when the bottleneck finishes the previous packet
        self._last_deliver = 0.0  # in-order delivery (TCP stream, jitter buffer)

    def _one_way(self) -> float:
        jitter = self.rng.normal(0.0, self.spec.jitter_ms) if self.spec.jitter_ms > 0 else 0.0
        return max(0.0, self.spec.delay_ms + jitter) / 1000.0

    def send(self, at: float, size_bytes: int) -> Fate:
        """Schedule one packet sent at `at`; return its fate."""
        start = at
        if self.spec.kbps:
            start = max(at, self._link_free)
            self._link_free = start + size_bytes * 8 / (self.spec.kbps * 1000)
            start = self._link_free
        lost = self.loss.lost()
        if self.reliable:
            arrival = start + self._one_way()
            attempt = start
            rto = max(MIN_RTO_MS, 2 * self.spec.delay_ms) / 1000.0
            while lost:  # the retransmission crosses the link again, and may be lost again
                attempt += rto
                arrival = attempt + self._one_way()
                lost = self.loss.lost()
                rto *= 2
            deliver = max(arrival, self._last_deliver)  # head-of-line blocking
            if self.spec.jitter_ms > 0:
                deliver = max(deliver, at + (self.spec.delay_ms + self.spec.buffer_ms) / 1000.0)
            self._last_deliver = deliver
            was_lost = attempt > start
            return Fate(at, arrival, deliver, was_lost)
        if lost:
            return Fate(at, None, None, True)
        arrival = start + self._one_way()
        if self.spec.jitter_ms <= 0:
            return Fate(at, arrival, arrival, False)
        slot = start + (self.spec.delay_ms + self.spec.buffer_ms) / 1000.0
        if arrival > slot:
            return Fate(at, arrival, None, False, late=True)
        return Fate(at, arrival, slot, False)


class _DelayLine:
    """Releases items at their delivery times, in delivery order, from one task."""

    def __init__(self, name: str) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._count = itertools.count()
        self._wake = asyncio.Event()
        self.name = name

    def put(self, when: float, item: Any) -> None:
        heapq.heappush(self._heap, (when, next(self._count), item))
        self._wake.set()

    async def items(self) -> AsyncIterator[tuple[float, Any]]:
        loop = asyncio.get_running_loop()
        while True:
            if not self._heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            when = self._heap[0][0]
            delay = when - loop.time()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            _, _, item = heapq.heappop(self._heap)
            yield when, item


_END = object()


class ImpairedTransport(Transport):
    """Wraps a Transport and degrades both directions by `uplink` / `downlink`.

    The wrapped transport's `reliable` and `wire_bytes` say whether losses are
    retransmitted (TCP) or gone (UDP) and how big a frame is on the wire.
    """

    def __init__(
        self, inner: Transport, uplink: LinkSpec, downlink: LinkSpec, *, seed: int = 0
    ) -> None:
        self.inner = inner
        reliable = bool(getattr(inner, "reliable", True))
        self.up = LinkModel(uplink, reliable=reliable, seed=seed * 2 + 1)
        self.down = LinkModel(downlink, reliable=reliable, seed=seed * 2 + 2)
        self._up_line = _DelayLine("uplink")
        self._sender: asyncio.Task[None] | None = None
        self._send_error: BaseException | None = None
        self.fates: dict[str, list[Fate]] = {"uplink": [], "downlink": []}

    @property
    def reliable(self) -> bool:
        """Same as the wrapped transport."""
        return self.up.reliable

    def stats(self) -> dict[str, dict[str, float]]:
        """Per direction: packets sent, lost on the wire, dropped (gone), late, median delay."""
        out: dict[str, dict[str, float]] = {}
        for name, fates in self.fates.items():
            delays = [f.deliver - f.sent for f in fates if f.deliver is not None]
            out[name] = {
                "packets": len(fates),
                "lost": sum(f.lost for f in fates),
                "dropped": sum(f.deliver is None for f in fates),
                "late": sum(f.late for f in fates),
                "median_delay_ms": float(np.median(delays) * 1000) if delays else 0.0,
            }
        return out

    def _size(self, item: Pcm | dict[str, Any]) -> int:
        wire = getattr(self.inner, "wire_bytes", None)
        if isinstance(item, dict):
            return 200
        return int(wire(len(item))) if callable(wire) else 2 * len(item)

    async def connect(self, start: StartInfo) -> None:
        await self.inner.connect(start)
        self._sender = asyncio.create_task(self._pump_up(), name=f"uplink-{start.call_id}")

    async def _pump_up(self) -> None:
        async for _, item in self._up_line.items():
            if item is _END:
                return
            try:
                if isinstance(item, dict):
                    await self.inner.send_event(item)
                else:
                    await self.inner.send_audio(item)
            except Exception as exc:  # noqa: BLE001 - re-raised on the next send
                self._send_error = exc
                return

    @staticmethod
    def _event_fate(model: LinkModel, fate: Fate) -> Fate:
        """Control events ride a reliable channel on every transport (WebRTC's data
        channel is SCTP, reliable and ordered): a lost event comes one retransmission
        later, never not at all. Only audio frames can be gone."""
        if fate.deliver is not None:
            return fate
        spec = model.spec
        when = fate.sent + (max(MIN_RTO_MS, 2 * spec.delay_ms) + spec.delay_ms) / 1000.0
        return Fate(fate.sent, when, when, True)

    def _schedule_up(self, item: Pcm | dict[str, Any]) -> None:
        if self._send_error is not None:
            raise self._send_error
        now = asyncio.get_running_loop().time()
        fate = self.up.send(now, self._size(item))
        if isinstance(item, dict):
            fate = self._event_fate(self.up, fate)
        self.fates["uplink"].append(fate)
        if fate.deliver is not None:
            self._up_line.put(fate.deliver, item)

    async def send_audio(self, pcm: Pcm) -> None:
        self._schedule_up(pcm.copy())

    async def send_event(self, event: dict[str, Any]) -> None:
        self._schedule_up(dict(event))

    async def receive(self) -> AsyncIterator[Incoming]:
        line = _DelayLine("downlink")

        last = 0.0

        async def pump() -> None:
            nonlocal last
            loop = asyncio.get_running_loop()
            try:
                async for item in self.inner.receive():
                    payload: Any = item.event if isinstance(item, EventIn) else item.pcm
                    fate = self.down.send(item.at, self._size(payload))
                    if isinstance(item, EventIn):
                        fate = self._event_fate(self.down, fate)
                    self.fates["downlink"].append(fate)
                    if fate.deliver is not None:
                        last = max(last, fate.deliver)
                        line.put(fate.deliver, item)
                line.put(max(last, loop.time()), _END)
            except Exception as exc:  # noqa: BLE001 - raised after what arrived before it
                line.put(max(last, loop.time()), exc)

        task = asyncio.create_task(pump(), name="downlink-pump")
        try:
            async for when, item in line.items():
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, AudioIn):
                    yield AudioIn(item.pcm, when)
                else:
                    yield EventIn(item.event, when)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        if self._sender is not None and not self._sender.done():
            self._up_line.put(asyncio.get_running_loop().time(), _END)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._sender), 2.0)
            self._sender.cancel()
        await self.inner.close()


def impair(transport: Transport, uplink: LinkSpec, downlink: LinkSpec, seed: int = 0) -> Transport:
    """`transport` degraded by the two directions, or itself when both are idle."""
    if uplink.idle and downlink.idle:
        return transport
    return ImpairedTransport(transport, uplink, downlink, seed=seed)


def link_spec(direction: Any) -> LinkSpec:
    """A LinkSpec from a scenario's `network.uplink` / `network.downlink` model."""
    return LinkSpec(**direction.model_dump())
