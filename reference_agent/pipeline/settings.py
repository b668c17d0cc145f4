"""The pipeline agent's process-wide settings (the flags of `voxsim agent serve`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reference_agent.faults import FaultPlan
from reference_agent.pipeline.stt import DEFAULT_STT
from reference_agent.pipeline.tts import DEFAULT_VOICE
from reference_agent.pipeline.vad import DEFAULT_HANGOVER_MS, DEFAULT_VAD
from reference_agent.state.context import ContextPolicy


@dataclass(frozen=True)
class AgentSettings:
    """Process-wide settings of the pipeline agent (CLI flags of `voxsim agent serve`).

    `backchannel_ms`: caller speech over the agent shorter than this ("uh-huh")
    only pauses the agent, which then carries on; longer speech is a barge-in.
    `silence_reprompt_ms`: caller silence before "Are you still there?"; the
    same silence again ends the call. 0 turns it off.
    `stt`: "domain" (pocketsphinx + the domain LM) or "whisper" (pocketsphinx
    partials, Whisper on the whole utterance at the endpoint).
    """

    llm_base_url: str
    llm_model: str = "voxsim-domain"
    hangover_ms: int = DEFAULT_HANGOVER_MS
    greeting: bool = True
    faults: FaultPlan = field(default_factory=FaultPlan)
    tools_db: Path | None = None
    backchannel_ms: int = 600
    silence_reprompt_ms: int = 8000
    context: ContextPolicy = field(default_factory=ContextPolicy)
    otlp_url: str | None = None
    vad: str = DEFAULT_VAD
    stt: str = DEFAULT_STT
    #: The agent's voice: "espeak" (default) or "piper" (pipeline/tts.py).
    voice: str = DEFAULT_VOICE
    #: This process's name in a fleet (docs/fleet.md): told to the caller in a
    #: `session` event at the start of every call, so a moved call is visible.
    instance: str = ""
    #: At most this many LLM requests of this process at once (an inference
    #: server with N slots; the injected llm latency is spent inside a slot);
    #: the others wait in arrival order. 0: no limit.
    llm_concurrency: int = 0
