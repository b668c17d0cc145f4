"""Scenario files: YAML in, frozen pydantic models out, one clear line on error.

A scenario says who calls (caller), what they do (turns), which agent answers
with which faults (agent), and what the caller must experience (slo). Unknown
keys are errors so a typo never silently becomes a default. Sizes are
bounded (docs/callers.md, "Limits"): no file can keep the loader, the
renderer or a call busy for long.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from simulator.configfile import field_error, load_mapping, model_at, read_config
from simulator.transports.registry import url_problem

#: Scripted turns in one scenario (a 30-minute call is well under 100).
MAX_TURNS = 200
#: Words in one `say` line (about 70 s of speech at 175 words a minute), and its characters.
MAX_SAY_WORDS = 200
MAX_SAY_CHARS = 2_000
#: Free text a regex is made of (`when:`, `done_when:`) and a fact's value.
MAX_PATTERN_CHARS = 200
MAX_FACT_CHARS = 200


def _valid_pattern(pattern: str) -> str | None:
    """Why `pattern` cannot be a case-insensitive regex, or None when it can."""
    try:
        re.compile(pattern, re.IGNORECASE)
    except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}: OverflowError
        return str(exc)
    return None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageFault(_Model):
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


class Faults(_Model):
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


class Agent(_Model):
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


class Disfluency(_Model):
    """Seeded disfluencies: per-word rates of fillers, repeats, false starts and pauses."""

    filler_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    fillers: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = [
        "um",
        "uh",
        "like",
    ]
    repeat_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    false_start_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    pause_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    #: A pause length in ms, or [min, max] to sample one uniformly per pause.
    pause_ms: (
        Annotated[int, Field(ge=0, le=10_000)]
        | Annotated[list[Annotated[int, Field(ge=0, le=10_000)]], Field(min_length=2, max_length=2)]
    ) = 600


class Room(_Model):
    """A shoebox room (pyroomacoustics); the RT60 is reached by inverse Sabine."""

    size_m: tuple[
        Annotated[float, Field(gt=1, le=50)],
        Annotated[float, Field(gt=1, le=50)],
        Annotated[float, Field(gt=1, le=50)],
    ] = (5.0, 4.0, 3.0)
    rt60_s: Annotated[float, Field(gt=0.05, le=3.0)] = 0.4
    distance_m: Annotated[float, Field(gt=0.05, le=10)] = 1.0


NoiseKind = Literal["white", "pink", "brown", "babble", "hum", "file"]


class Noise(_Model):
    """Background noise mixed at `snr_db`, measured over the active speech samples."""

    kind: NoiseKind = "white"
    snr_db: Annotated[float, Field(ge=-10, le=60)] = 20.0
    file: Annotated[str, Field(max_length=1_000)] | None = None
    hum_hz: Literal[50, 60] = 50
    babble_talkers: Annotated[int, Field(ge=2, le=12)] = 6
    #: Keep the noise on between turns (real lines do); false = only under speech.
    continuous: bool = True

    @model_validator(mode="after")
    def _file_for_file_kind(self) -> Noise:
        if self.kind == "file" and not self.file:
            raise ValueError("kind 'file' needs file: PATH (WAV, FLAC, OGG...)")
        if self.file is not None and self.kind != "file":
            raise ValueError("file: is only used with kind: file")
        if self.file is not None and not _is_file(self.file):
            raise ValueError(
                f"noise file not found: {self.file} (WAV, FLAC, OGG...; path from cwd)"
            )
        return self


def _is_file(path: str) -> bool:
    """True for an existing regular file; False for any name the OS cannot even stat."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


class Channel(_Model):
    """The telephone line: narrowband, a codec, packet loss with concealment, level."""

    narrowband: bool = True
    codec: Literal["none", "mulaw", "alaw", "opus"] = "mulaw"
    bitrate_kbps: Annotated[float, Field(ge=6, le=64)] = 12.0
    loss_rate: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    gain_db: Annotated[float, Field(ge=-40, le=40)] = 0.0
    clip_dbfs: Annotated[float, Field(ge=-40, le=0)] = 0.0


#: Agent kinds reached at a URL, with the URL shape each expects (DESIGN.md).
REMOTE_URL_EXAMPLES = {
    "twilio": "twilio+ws://HOST:PORT/PATH",
    "realtime": "realtime+ws://HOST:PORT/v1",
    "webrtc": "webrtc+http://HOST:PORT/offer",
}


class LinkDirection(_Model):
    """One direction of the network between caller and agent (docs/impairments.md)."""

    delay_ms: Annotated[float, Field(ge=0, le=10_000)] = 0.0
    jitter_ms: Annotated[float, Field(ge=0, le=2_000)] = 0.0
    loss: Annotated[float, Field(ge=0, lt=1)] = 0.0
    burst: Annotated[float, Field(ge=1, le=1_000)] = 1.0
    kbps: Annotated[float, Field(gt=0, le=1_000_000)] | None = None
    jitter_buffer_ms: Annotated[float, Field(ge=0, le=5_000)] | None = None


class Network(_Model):
    """Impairments the harness applies per direction, identically on every transport."""

    uplink: LinkDirection = LinkDirection()
    downlink: LinkDirection = LinkDirection()


class Reconnect(_Model):
    """After its link drops (not a hang-up), the caller reconnects and goes on with the
    same call id, as a telephony media stream does (docs/fleet.md). Off by default."""

    attempts: Annotated[int, Field(ge=0, le=20)] = 3
    backoff_ms: Annotated[int, Field(ge=0, le=10_000)] = 200


class Caller(_Model):
    """The simulated caller's voice (and how its line behaves)."""

    voice: Annotated[str, Field(min_length=1, max_length=64)] = "en-us"
    rate_wpm: Annotated[int, Field(ge=80, le=450)] = 175
    pitch: Annotated[int, Field(ge=0, le=99)] = 50
    engine: Literal["espeak", "piper"] = "espeak"
    pitch_range: Annotated[int, Field(ge=0, le=99)] = 50
    word_gap_ms: Annotated[int, Field(ge=0, le=1000)] = 0
    disfluency: Disfluency | None = None
    room: Room | None = None
    noise: Noise | None = None
    channel: Channel | None = None
    #: WebSocket callers only; not part of the rendered audio.
    reconnect: Reconnect | None = None

    @model_validator(mode="after")
    def _known_voice(self) -> Caller:
        from simulator.caller.voices import check_voice

        check_voice(self.engine, self.voice)
        return self


class Turn(_Model):
    """One step of the caller's plan.

    `say` speaks a sentence, then (unless `wait: false`) waits for the agent's
    reply; `audio` plays a recorded line instead of synthesizing one (its
    `say`, if given, is what it says: the WER reference); `wait: true` alone
    waits for the agent to speak (e.g. a greeting); `silence_ms` keeps the
    line silent for that long.
    """

    say: Annotated[str, Field(min_length=1, max_length=MAX_SAY_CHARS)] | None = None
    #: A recorded caller line (any format libsndfile reads), path relative to the
    #: scenario file; resolved to an absolute path when the scenario is loaded.
    audio: Annotated[str, Field(min_length=1, max_length=1_000)] | None = None
    wait: bool | None = None
    silence_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None
    reply_timeout_ms: Annotated[int, Field(ge=100, le=120_000)] = 10_000
    #: Start `say` this many ms into the agent's reply to the previous turn.
    barge_in_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    #: Say this (e.g. "uh-huh") `at_ms` into the agent's reply, then keep listening.
    backchannel: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    at_ms: Annotated[int, Field(ge=0, le=60_000)] = 1000
    #: Hang up this many ms into the agent's reply to the previous turn.
    hangup_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    #: Pause mid-sentence for `pause_ms` after word number `pause_after_word`.
    pause_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    pause_after_word: Annotated[int, Field(ge=1, le=MAX_SAY_WORDS)] | None = None

    @field_validator("say")
    @classmethod
    def _say_words(cls, say: str | None) -> str | None:
        words = len(say.split()) if say is not None else 0
        if words > MAX_SAY_WORDS:
            raise ValueError(f"a say line has at most {MAX_SAY_WORDS} words (got {words:,})")
        return say

    @field_validator("audio")
    @classmethod
    def _audio_file(cls, audio: str | None, info: ValidationInfo) -> str | None:
        if audio is None:
            return None
        base = (info.context or {}).get("scenario_dir") or "."
        path = Path(base) / audio
        if not _is_file(str(path)):
            raise ValueError(
                f"audio file not found: {path} (WAV, FLAC, OGG...; path from the scenario file)"
            )
        return str(path.resolve())

    @model_validator(mode="after")
    def _one_action(self) -> Turn:
        speaks = self.say if self.say is not None else self.audio
        actions = [
            a for a in (speaks, self.silence_ms, self.backchannel, self.hangup_ms) if a is not None
        ]
        if speaks is not None and self.silence_ms is not None:
            raise ValueError("a turn has either say or silence_ms, not both")
        if len(actions) > 1:
            raise ValueError("a turn has one of say, silence_ms, backchannel, hangup_ms")
        if not actions and self.wait is not True:
            raise ValueError("a turn needs say, silence_ms, backchannel, hangup_ms or wait: true")
        if self.barge_in_ms is not None and speaks is None:
            raise ValueError("barge_in_ms needs say: the words to barge in with")
        if (self.pause_ms is None) != (self.pause_after_word is None) or (
            self.pause_ms is not None and (self.say is None or self.audio is not None)
        ):
            raise ValueError("pause_ms and pause_after_word go together, on a say turn")
        return self

    @property
    def waits_for_reply(self) -> bool:
        """True when the caller waits for the agent to answer after this turn."""
        if self.wait is not None:
            return self.wait
        return self.say is not None or self.audio is not None


class Gap(_Model):
    """A response gap in ms: fixed, uniform in [min, max], or lognormal by median and p95."""

    dist: Literal["fixed", "uniform", "lognormal"] = "lognormal"
    median_ms: Annotated[float, Field(ge=0, le=30_000)] = 800.0
    p95_ms: Annotated[float, Field(ge=0, le=60_000)] = 1500.0
    min_ms: Annotated[float, Field(ge=0, le=30_000)] = 600.0
    max_ms: Annotated[float, Field(ge=0, le=60_000)] = 3000.0

    @model_validator(mode="after")
    def _ordered(self) -> Gap:
        if self.min_ms > self.max_ms:
            raise ValueError("min_ms must not exceed max_ms")
        if self.dist == "lognormal" and self.p95_ms < self.median_ms:
            raise ValueError("p95_ms must be at least median_ms")
        return self


class Persona(_Model):
    """How a goal-driven caller behaves (its voice is `caller:`)."""

    #: terse: only what was asked; normal: what was asked, politely; chatty: every fact at once.
    verbosity: Literal["terse", "normal", "chatty"] = "normal"
    #: Failed attempts (agent did not understand / made no progress) before giving up.
    patience: Annotated[int, Field(ge=1, le=20)] = 3
    #: What the caller does when its patience runs out.
    when_impatient: Literal["hang_up", "ask_for_human"] = "hang_up"
    #: Chance to cut in when the agent speaks longer than `long_reply_ms` without pausing.
    interruption: Annotated[float, Field(ge=0, le=1)] = 0.0
    long_reply_ms: Annotated[int, Field(ge=200, le=60_000)] = 4000
    #: Chance to say a backchannel ("uh-huh") on a pause inside the agent's turn.
    backchannel_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    backchannel: Annotated[str, Field(min_length=1, max_length=40)] = "uh-huh"
    #: Gap between the end of the agent's speech and the caller's answer.
    response_gap: Gap = Gap()
    #: Agent silence after which the caller takes the agent's turn to be over
    #: (a response gap is never shorter: nobody answers before deciding the turn is over).
    end_of_turn_ms: Annotated[int, Field(ge=100, le=5_000)] = 500


class End(_Model):
    """When a goal-driven call ends: caps (reaching one is a failed call)."""

    max_turns: Annotated[int, Field(ge=1, le=200)] = 12
    max_duration_s: Annotated[float, Field(gt=0, le=3_600)] = 120.0
    #: The agent saying nothing this long after the caller spoke is a failed attempt
    #: (the caller says it again, or gives up when its patience is spent).
    silence_timeout_ms: Annotated[int, Field(ge=500, le=120_000)] = 10_000


class Rule(_Model):
    """An author's rule: when the agent says `when` (words or a regex), the caller acts."""

    when: Annotated[str, Field(min_length=1, max_length=MAX_PATTERN_CHARS)]
    do: Literal["say", "barge_in", "silent", "ask_for_human", "hang_up", "done"] = "say"
    say: Annotated[str, Field(min_length=1, max_length=400)] | None = None
    #: Apply at most this many times per call.
    times: Annotated[int, Field(ge=1, le=100)] = 1

    @model_validator(mode="after")
    def _say_needs_text(self) -> Rule:
        if self.do in ("say", "barge_in") and self.say is None:
            raise ValueError(f"do: {self.do} needs say: the words to say")
        if self.do not in ("say", "barge_in") and self.say is not None:
            raise ValueError(f"do: {self.do} takes no say:")
        problem = _valid_pattern(self.when)
        if problem is not None:
            raise ValueError(f"when: is not a valid pattern ({problem})")
        return self


class LlmCaller(_Model):
    """The `llm` policy's endpoint: any OpenAI-compatible chat server (temperature 0)."""

    base_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)] = (
        "http://127.0.0.1:8080/v1"
    )
    model: Annotated[str, Field(min_length=1, max_length=200)] = "default"
    api_key_env: Annotated[str, Field(max_length=100)] = "OPENAI_API_KEY"
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    seed: int = 0
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    retries: Annotated[int, Field(ge=0, le=5)] = 2
    max_tokens: Annotated[int, Field(ge=8, le=1024)] = 96


class JudgeLlm(LlmCaller):
    """The judge's endpoint: any OpenAI-compatible chat server, temperature 0 and a seed."""

    timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    max_tokens: Annotated[int, Field(ge=16, le=1024)] = 200


class Criterion(_Model):
    """One acceptance criterion, judged pass/fail on the whole call with quoted evidence."""

    criterion: Annotated[str, Field(min_length=1, max_length=300)]
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    #: A failed `must` criterion fails the call whatever the score.
    must: bool = False


class Judge(_Model):
    """Criteria an LLM judges each call by (docs/judge.md); a plain string is a criterion."""

    criteria: Annotated[list[Criterion], Field(min_length=1, max_length=20)]
    llm: JudgeLlm = JudgeLlm()
    #: The call passes the judge when every `must` criterion passes and the weighted
    #: share of passed criteria reaches this (1.0: every criterion must pass).
    min_score: Annotated[float, Field(ge=0, le=1)] = 1.0
    #: Reuse a judgement made on identical inputs ($VOXSIM_CACHE_DIR/judge).
    cache: bool = True
    #: Ask the judge two control questions on a call whose truth is plain first; a
    #: judge that gets one wrong has its verdicts kept but not counted (docs/judge.md).
    calibrate: bool = True

    @field_validator("criteria", mode="before")
    @classmethod
    def _plain_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"criterion": v} if isinstance(v, str) else v for v in value]
        return value


_FACT_KEY = r"^[a-z][a-z0-9_]{0,39}$"


class Conversation(_Model):
    """A goal-driven caller: after the scripted `turns` (if any) it pursues `goal`.

    It listens to the agent (its transcript events, or voxsim's own recognizer
    on the audio), answers from `facts`, says it does not know anything in
    `unknown` (it never invents a value), and ends the call when the goal is
    done, cannot be done, or a cap in `end` is reached (a failed call).
    """

    goal: Annotated[str, Field(min_length=1, max_length=1000)]
    #: What the caller says first; default: the goal in the first person.
    opening: Annotated[str, Field(min_length=1, max_length=400)] | None = None
    facts: Annotated[
        dict[
            Annotated[str, Field(pattern=_FACT_KEY)],
            Annotated[str, Field(min_length=1, max_length=MAX_FACT_CHARS)],
        ],
        Field(max_length=50),
    ] = {}
    unknown: Annotated[list[Annotated[str, Field(pattern=_FACT_KEY)]], Field(max_length=50)] = []
    #: The agent saying one of these (words or regexes) means the goal is done;
    #: default: a confirmation ("booked", "cancelled", "started a refund", ...).
    done_when: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=MAX_PATTERN_CHARS)]],
        Field(max_length=20),
    ] = []
    policy: Literal["rules", "llm"] = "rules"
    llm: LlmCaller = LlmCaller()
    persona: Persona = Persona()
    end: End = End()
    when: Annotated[list[Rule], Field(max_length=50)] = []
    #: Where the caller's understanding comes from: the agent's transcript events
    #: when it sends them (auto), only those, or voxsim's recognizer on the audio.
    ears: Literal["auto", "transcript", "audio"] = "auto"

    @model_validator(mode="after")
    def _facts_known_or_unknown(self) -> Conversation:
        both = set(self.facts) & set(self.unknown)
        if both:
            raise ValueError(f"{sorted(both)} is both in facts and unknown")
        for pattern in self.done_when:
            problem = _valid_pattern(pattern)
            if problem is not None:
                raise ValueError(f"done_when {pattern!r} is not a valid pattern ({problem})")
        return self


class Slo(_Model):
    """Service-level objectives the run is judged by (all optional)."""

    latency_p50_ms: Annotated[float, Field(gt=0)] | None = None
    latency_p95_ms: Annotated[float, Field(gt=0)] | None = None
    wer_max: Annotated[float, Field(ge=0)] | None = None
    latency_p99_ms: Annotated[float, Field(gt=0)] | None = None
    spoken_wer_max: Annotated[float, Field(ge=0)] | None = None
    task_success_min: Annotated[float, Field(ge=0, le=1)] | None = None
    pause_takeover_max: Annotated[float, Field(ge=0, le=1)] | None = None
    backchannel_takeover_max: Annotated[float, Field(ge=0, le=1)] | None = None
    barge_in_stop_p95_ms: Annotated[float, Field(gt=0)] | None = None
    time_to_first_audio_ms: Annotated[float, Field(gt=0)] | None = None
    #: pass^k over each matrix cell's `repeat` calls (k = repeat; docs/judge.md).
    pass_hat_k_min: Annotated[float, Field(ge=0, le=1)] | None = None


class ToolExpectation(_Model):
    """A tool call the agent must make; `args` must match (a subset, normalised like WER)."""

    name: Annotated[str, Field(min_length=1)]
    args: dict[str, Any] = {}


class StateCheck(_Model):
    """A final-state check: `query` on the SQLite file `sqlite` must return `rows`.

    `:call_id` in the query is bound to the call's id. Values compare after
    the WER normalisation when they are strings.
    """

    sqlite: Annotated[str, Field(min_length=1)]
    query: Annotated[str, Field(min_length=1)]
    rows: list[list[Any]]


class Expect(_Model):
    """What a successful call achieves (task success, docs/metrics.md)."""

    tools: list[ToolExpectation] = []
    state: list[StateCheck] = []
    agent_says: list[Annotated[str, Field(min_length=1)]] = []


class Scenario(_Model):
    """A whole scenario file."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: Annotated[str, Field(max_length=4_000)] = ""
    seed: Annotated[int, Field(ge=0)] = 0
    agent: Agent = Agent()
    caller: Caller = Caller()
    turns: Annotated[list[Turn], Field(max_length=MAX_TURNS)] = []
    #: A goal-driven caller that takes over after `turns` (simulator/conversation/).
    conversation: Conversation | None = None
    slo: Slo = Slo()
    #: Dotted field -> values; the calls are the cartesian product (simulator/matrix.py).
    matrix: dict[str, Annotated[list[Any], Field(min_length=1)]] = {}
    repeat: Annotated[int, Field(ge=1, le=10_000)] = 1
    expect: Expect | None = None
    #: Whole-call criteria judged by an LLM (simulator/judge/).
    judge: Judge | None = None
    network: Network = Network()

    @model_validator(mode="after")
    def _something_to_say(self) -> Scenario:
        if not self.turns and self.conversation is None:
            raise ValueError("a scenario needs turns:, a conversation:, or both")
        return self


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError with file and line."""
    p = Path(path)
    return parse_scenario(read_config(p, "voxsim validate FILE"), source=str(p), base=p.parent)


def parse_scenario(text: str, source: str = "<scenario>", base: Path | None = None) -> Scenario:
    """Validate YAML text as a Scenario; errors name `source`, the line and the field.

    `base` is the scenario file's folder, which a turn's `audio:` path is relative to
    (default: the current directory)."""
    data, root = load_mapping(
        text, source, "a scenario must be a mapping with name, turns, ...", "scenarios/smoke.yaml"
    )
    try:
        scenario = Scenario.model_validate(data, context={"scenario_dir": base})
        if scenario.matrix:
            from simulator.matrix import expand

            expand(scenario, source, root)  # every combination must validate too
        return scenario
    except ValidationError as exc:
        raise field_error(exc, root, source, _allowed) from None


def _allowed(loc: tuple[Any, ...], err: Any) -> str:
    if err["type"] == "extra_forbidden":
        model = model_at(Scenario, loc[:-1])
        if model is not None:
            return "allowed: " + ", ".join(model.model_fields)
    if err["type"] == "literal_error":
        return f"allowed: {err['ctx']['expected']}"
    bounds = _range_of(loc)
    if bounds:
        return f"allowed: {bounds}"
    return "see docs in scenarios/smoke.yaml"


def _range_of(loc: tuple[Any, ...]) -> str:
    """The numeric range a field accepts ("0.05 < x <= 3.0"), from its constraints."""
    model = model_at(Scenario, loc[:-1])
    name = loc[-1] if loc and isinstance(loc[-1], str) else None
    if model is None or name is None or name not in model.model_fields:
        return ""
    lo = hi = ""
    for meta in _constraints(model.model_fields[name]):
        for attr, fmt in (("gt", "{} < "), ("ge", "{} <= ")):
            if getattr(meta, attr, None) is not None:
                lo = fmt.format(getattr(meta, attr))
        for attr, fmt in (("lt", " < {}"), ("le", " <= {}")):
            if getattr(meta, attr, None) is not None:
                hi = fmt.format(getattr(meta, attr))
    return f"{lo}x{hi} ({name})" if lo or hi else ""


def _constraints(info: Any) -> list[Any]:
    metas = list(info.metadata)
    for arg in typing.get_args(info.annotation):
        if typing.get_origin(arg) is Annotated:
            for m in typing.get_args(arg)[1:]:
                metas.extend(getattr(m, "metadata", [m]))
    return metas
