"""What a call is judged by: `slo:`, `expect:` (task success) and `judge:`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from simulator.schema.base import Model
from simulator.schema.conversation import LlmCaller


class Slo(Model):
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


class ToolExpectation(Model):
    """A tool call the agent must make; `args` must match (a subset, normalised like WER)."""

    name: Annotated[str, Field(min_length=1)]
    args: dict[str, Any] = {}


class StateCheck(Model):
    """A final-state check: `query` on the SQLite file `sqlite` must return `rows`.

    `:call_id` in the query is bound to the call's id. Values compare after
    the WER normalisation when they are strings.
    """

    sqlite: Annotated[str, Field(min_length=1)]
    query: Annotated[str, Field(min_length=1)]
    rows: list[list[Any]]


class Expect(Model):
    """What a successful call achieves (task success, docs/metrics.md)."""

    tools: list[ToolExpectation] = []
    state: list[StateCheck] = []
    agent_says: list[Annotated[str, Field(min_length=1)]] = []


class JudgeLlm(LlmCaller):
    """The judge's endpoint: any OpenAI-compatible chat server, temperature 0 and a seed."""

    timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    max_tokens: Annotated[int, Field(ge=16, le=1024)] = 200


class Criterion(Model):
    """One acceptance criterion, judged pass/fail on the whole call with quoted evidence."""

    criterion: Annotated[str, Field(min_length=1, max_length=300)]
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    #: A failed `must` criterion fails the call whatever the score.
    must: bool = False


class Judge(Model):
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
