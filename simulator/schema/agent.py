"""The `agent:` section (which agent answers, with which faults) and `network:`."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from simulator.schema.base import Model
from simulator.transports.registry import url_problem

#: Agent kinds reached at a URL, with the URL shape each expects (DESIGN.md).
REMOTE_URL_EXAMPLES = {
    "twilio": "twilio+ws://HOST:PORT/PATH",
    "realtime": "realtime+ws://HOST:PORT/v1",
    "webrtc": "webrtc+http://HOST:PORT/offer",
}


class StageFault(Model):
    """Faults injected into one stage of a bundled agent."""

    latency_ms: Annotated[float, Field(ge=0, le=60_000)] = 0.0
    error_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    # How added latency is drawn: fixed; normal (sd = jitter); uniform (+- jitter);
    # exponential (mean latency_ms). Draws are seeded by the scenario's seed.
    latency_jitter_ms: Annotated[float, Field(ge=0, le=60_000)] = 0.0
    distribution: Literal["fixed", "normal", "uniform", "exponential"] = "fixed"
    # An injected error: the agent says a recovery phrase, or the call fails.
    on_error: Literal["recover", "fail"] = "recover"

    def draw_ms(self, rng: np.random.Generator) -> float:
        """One added-latency draw in milliseconds (never negative); `fixed` draws nothing."""
        mean, spread = self.latency_ms, self.latency_jitter_ms
        if self.distribution == "normal":
            return max(0.0, float(rng.normal(mean, spread)))
        if self.distribution == "uniform":
            return max(0.0, float(rng.uniform(mean - spread, mean + spread)))
        if self.distribution == "exponential":
            return float(rng.exponential(mean)) if mean > 0 else 0.0
        return mean


class Faults(Model):
    """Per-stage faults; honoured by the bundled agents only.

    The one fault schema: the bundled agents' plan (reference_agent.faults.FaultPlan)
    and the `voxsim agent serve` fault flags are derived from these fields and
    their defaults. A field's `description` is its flag's help.
    """

    stt: StageFault = StageFault()
    llm: StageFault = StageFault()
    tts: StageFault = StageFault()
    tool: StageFault = StageFault()
    # The agent gives up on an LLM request with no first token after this long (0: never).
    llm_timeout_ms: Annotated[float, Field(ge=0, le=120_000, description="0: no timeout")] = 0.0
    # TTS stalls this long, `tts_stall_after_ms` into the first sentence of each reply.
    tts_stall_ms: Annotated[float, Field(ge=0, le=60_000, description="pause mid-sentence")] = 0.0
    tts_stall_after_ms: Annotated[float, Field(ge=0, le=60_000)] = 300.0


class Agent(Model):
    """Which agent answers the call: a bundled one, or yours at a URL."""

    kind: Literal["pipeline", "e2e", "websocket", "twilio", "realtime", "webrtc"] = "pipeline"
    url: Annotated[str, Field(max_length=2_000)] | None = None
    faults: Faults = Faults()
    #: Bundled agents only: the recognizer (domain LM, or Whisper for callers who
    #: speak in their own words) and the voice (eSpeak, or Piper: natural).
    stt: Literal["domain", "whisper"] = "domain"
    voice: Literal["espeak", "piper"] = "espeak"

    @field_validator("url")
    @classmethod
    def _reachable_url(cls, url: str | None) -> str | None:
        problem = url_problem(url) if url is not None else None
        if problem is not None:
            raise ValueError(problem)
        return url

    @model_validator(mode="after")
    def _url_for_remote(self) -> Agent:
        if self.kind == "websocket" and not self.url:
            raise ValueError("kind 'websocket' needs url: ws://HOST:PORT/PATH")
        if self.kind in REMOTE_URL_EXAMPLES and not self.url:
            raise ValueError(f"kind {self.kind!r} needs url: {REMOTE_URL_EXAMPLES[self.kind]}")
        return self


class LinkDirection(Model):
    """One direction of the network between caller and agent (docs/impairments.md)."""

    delay_ms: Annotated[float, Field(ge=0, le=10_000)] = 0.0
    jitter_ms: Annotated[float, Field(ge=0, le=2_000)] = 0.0
    loss: Annotated[float, Field(ge=0, lt=1)] = 0.0
    burst: Annotated[float, Field(ge=1, le=1_000)] = 1.0
    kbps: Annotated[float, Field(gt=0, le=1_000_000)] | None = None
    jitter_buffer_ms: Annotated[float, Field(ge=0, le=5_000)] | None = None


class Network(Model):
    """Impairments the harness applies per direction, identically on every transport."""

    uplink: LinkDirection = LinkDirection()
    downlink: LinkDirection = LinkDirection()
