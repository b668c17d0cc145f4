"""The `conversation:` section: a goal-driven caller, its persona, rules and caps."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simulator.schema.base import MAX_FACT_CHARS, MAX_PATTERN_CHARS, Model, valid_pattern


class Gap(Model):
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


class Persona(Model):
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


class End(Model):
    """When a goal-driven call ends: caps (reaching one is a failed call)."""

    max_turns: Annotated[int, Field(ge=1, le=200)] = 12
    max_duration_s: Annotated[float, Field(gt=0, le=3_600)] = 120.0
    #: The agent saying nothing this long after the caller spoke is a failed attempt
    #: (the caller says it again, or gives up when its patience is spent).
    silence_timeout_ms: Annotated[int, Field(ge=500, le=120_000)] = 10_000


class Rule(Model):
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
        problem = valid_pattern(self.when)
        if problem is not None:
            raise ValueError(f"when: is not a valid pattern ({problem})")
        return self


class LlmCaller(Model):
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


_FACT_KEY = r"^[a-z][a-z0-9_]{0,39}$"


class Conversation(Model):
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
            problem = valid_pattern(pattern)
            if problem is not None:
                raise ValueError(f"done_when {pattern!r} is not a valid pattern ({problem})")
        return self
