"""The one interface every transport implements, and what flows through it.

A transport carries 20 ms PCM frames and JSON control events between the
harness (the caller) and an agent. The session never knows which transport
it drives: `connect / send_audio / send_event / receive / close` (STYLE.md 2).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from simulator.audio import Pcm


@dataclass(frozen=True)
class StartInfo:
    """What the harness tells the agent when a call starts."""

    call_id: str
    traceparent: str
    config: dict[str, Any] = field(default_factory=dict)

    def event(self) -> dict[str, Any]:
        """The `start` control event of the native protocol (docs/protocol.md)."""
        return {
            "type": "start",
            "call_id": self.call_id,
            "sample_rate": 16000,
            "encoding": "pcm_s16le",
            "channels": 1,
            "traceparent": self.traceparent,
            "config": self.config,
        }


@dataclass(frozen=True)
class AudioIn:
    """Agent audio as received by the caller; `at` is the loop's monotonic time."""

    pcm: Pcm
    at: float


@dataclass(frozen=True)
class EventIn:
    """A control event from the agent."""

    event: dict[str, Any]
    at: float


Incoming = AudioIn | EventIn


class Transport(abc.ABC):
    """Caller side of a connection to one agent, for one call."""

    @abc.abstractmethod
    async def connect(self, start: StartInfo) -> None:
        """Open the connection and send the start event."""

    @abc.abstractmethod
    async def send_audio(self, pcm: Pcm) -> None:
        """Send one frame of caller audio."""

    @abc.abstractmethod
    async def send_event(self, event: dict[str, Any]) -> None:
        """Send a control event."""

    @abc.abstractmethod
    def receive(self) -> AsyncIterator[Incoming]:
        """Yield agent audio and events until the agent hangs up or `close` is called."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Send stop and release the connection; safe to call twice."""


class AgentLink(Protocol):
    """Agent side of one call, as bundled agents see it on any transport."""

    async def recv(self) -> Pcm | dict[str, Any] | None:
        """Next caller frame or control event; None when the caller hung up."""
        ...

    async def send_audio(self, pcm: Pcm) -> None:
        """Send agent audio (any length; 20 ms frames are customary)."""
        ...

    async def send_event(self, event: dict[str, Any]) -> None:
        """Send a control event (transcript, metrics, clear, error)."""
        ...


#: What serves one call on an AgentLink: an agent's `handle`, or a plain coroutine function.
AgentHandler = Callable[[AgentLink], Awaitable[None]]


@runtime_checkable
class Agent(Protocol):
    """An agent under test, as servers and the in-process transport see it: one call per
    `handle(link)`, every transport alike (the pipeline and the e2e agent both are one;
    their contract: tests/reference_agent/test_agent_contract.py)."""

    async def handle(self, link: AgentLink) -> None:
        """Run one call: `start` first on `link`, until the caller hangs up (`recv` None)
        or the agent ends the call."""
        ...

    async def close(self) -> None:
        """Release what the agent holds across calls (clients, exporters)."""
        ...
