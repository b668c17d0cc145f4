"""The rows of a run directory, typed: one place that says what each table holds.

A run directory (DESIGN.md, "The run directory") is written by
`simulator.store.RunStore` (run.json, calls.jsonl, turns.jsonl), the span sink
(spans.jsonl) and the load conductor (load.jsonl), and read back by
`reports.rundir.RunData` (reports, baselines, `simulator.load_run`). The
TypedDicts below are the contract between them: a producer that fills a field
not named here, or with the wrong type, fails mypy, and so does a reader (the
report, baselines, SLOs, the judge) that reads one. tests/simulator/test_rows.py
also checks every field of a real run against it. docs/metrics.md explains what
each figure means; this module says which table carries it.

Every row type is `total=False`: a row is filled in stages (the session, then
the WER (b) scorer, then the span join) and a run stopped part-way leaves rows
with only their first fields. Readers use `row.get(...)`.

run.json carries `schema_version`. A run without one was written before the
version existed and is read as it is (its tables have the same fields); a
version newer than `SCHEMA_VERSION` is refused by `check_schema_version` with
one line saying what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from simulator.errors import EXIT_BAD_INPUT, VoxsimError

__all__ = [
    "SCHEMA_VERSION",
    "CallRow",
    "LoadStepRow",
    "RunDirectoryError",
    "SloResultRow",
    "SpanRow",
    "TurnRow",
    "check_schema_version",
]

#: The run directory's layout version, stamped into run.json as `schema_version`.
#: Raise it when a field changes meaning or a reader could no longer read a
#: table; adding an optional field does not need it.
SCHEMA_VERSION = 1


class TurnRow(TypedDict, total=False):
    """One caller turn (turns.jsonl). Times `*_s` are seconds on the call's caller
    timeline (sample 0 of the call = 0.0); docs/metrics.md, "Timeline"."""

    # -- the session (rows built in simulator/live/turnrows.py), as the turn is planned and played
    call_id: str
    scenario: str
    turn: int  # index of the turn in the call's plan
    kind: str  # say | wait | silence | backchannel | hangup ...
    caller_text: str | None  # what the caller was scripted to say (WER (a) reference)
    caller_spoken_text: str | None  # the words actually synthesised (fillers, repeats)
    caller_notes: dict[str, Any]  # the caller chain's measurements: SNR, losses, clipping
    pauses_s: list[list[float]]  # planned mid-utterance pauses [start, end]
    silence_s: list[float] | None  # a silent turn's [start, end]
    action: str | None  # barge_in | backchannel | hangup, placed in the agent's reply
    action_planned_s: float | None
    action_at_s: float | None
    agent_speaking_at_action: bool | None
    agent_took_over: bool  # the agent started talking inside the caller's utterance
    speech_start_s: float | None  # ground truth: first caller sample above threshold
    speech_end_s: float | None  # ground truth: last caller sample above threshold
    agent_onset_s: float | None  # first agent sample above threshold after speech end
    agent_end_s: float | None  # end of the agent's reply
    latency_ms: float | None  # voice-to-voice: speech end -> agent onset
    agent_overlap: bool  # the agent was already talking when the caller spoke
    agent_heard_text: str | None  # the agent's final STT transcript (role user)
    agent_reply_text: str | None  # what the agent meant to say (role assistant)
    wer: float | None  # WER (a): agent STT vs caller_text
    wer_ref_words: int | None
    wer_subs: int
    wer_dels: int
    wer_ins: int
    stages: dict[str, float]  # the agent's `metrics` event: stage name -> ms
    trace_id: str | None
    error: str | None
    actions: list[dict[str, Any]]  # executed actions: kind, start_s, end_s (metrics/call.py)
    decision: dict[str, Any]  # a goal-driven caller's decision (simulator/conversation)
    caller_late: bool  # a goal-driven caller's line started later than it meant to
    # -- WER (b), simulator/metrics/spoken.py: the agent's speech as the harness heard it
    spoken_text: str
    spoken_wer: float | None
    spoken_wer_ref_words: int | None
    spoken_wer_subs: int
    spoken_wer_dels: int
    spoken_wer_ins: int
    # -- the judge (simulator/judge): an unannounced reply, as Whisper heard it
    agent_audio_text: str | None
    # -- the span join, simulator/tracing.py
    span_stages: dict[str, float]  # leaf span name -> ms
    spans_joined: int
    span_explained_ms: float | None  # union of stage spans inside the latency window
    span_remainder_ms: float | None  # latency_ms - span_explained_ms
    # -- a load run (simulator/load): which worker measured it, and when
    load_worker: str
    load_at: float
    worker_lost: bool


class CallRow(TypedDict, total=False):
    """One finished call (calls.jsonl); simulator/call.py `run_call`, then the
    metrics (task, turn-taking), the judge (verdict, attribution) and load runs."""

    call_id: str
    scenario: str
    matrix: dict[str, Any]  # this call's matrix values
    seed: int
    caller_notes: dict[str, Any]
    status: str  # ok | failed
    error: str | None
    started_at: str  # ISO 8601
    duration_s: float
    n_turns: int
    audio_dir: str | None  # relative: audio/CALL; None when no run directory keeps audio
    max_send_lateness_ms: float
    trace_id: str
    wall_t0_ns: int  # wall clock of caller sample 0, to place agent spans
    conversation: Any  # a goal-driven caller's transcript, or None
    network: dict[str, Any]  # impairment statistics per direction
    tool_calls: list[dict[str, Any]]
    time_to_first_audio_ms: float | None
    turn_taking: dict[str, Any]
    task: dict[str, Any] | None  # the scenario's `expect:` checked
    judge: dict[str, Any]  # LLM judge per criterion (docs/judge.md)
    verdict: dict[str, Any]
    attribution: dict[str, Any] | None  # None: the call passed
    # -- load and chaos runs
    load_worker: str
    load_at: float
    agent_instances: Any
    link_drops: Any
    dropped_at_s: Any
    reconnects: int
    reconnect_down_ms: Any
    resumed: Any
    worker_lost: bool  # its load worker died with it in flight (simulator/load/conductor.py)
    # -- in memory only (run_call's result): the call's turn rows; calls.jsonl leaves it out
    turns: list[TurnRow]


class SpanRow(TypedDict, total=False):
    """One OpenTelemetry span (spans.jsonl), the harness's or the agent's."""

    source: str  # harness | agent
    service: str | None
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str | None
    name: str
    start_ns: int  # Unix nanoseconds
    end_ns: int
    attrs: dict[str, Any]


class LoadStepRow(TypedDict, total=False):
    """One step of a load run (load.jsonl); docs/metrics.md and docs/load.md."""

    concurrency: int  # required by the report
    n: int  # caller turns measured in the step
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    calls: int
    failed_calls: int
    error_rate: float | None  # failed calls / calls (0..1)
    no_reply: int
    workers: int
    breakpoint: bool
    generator_lateness_ms: float | None
    generator_lateness_p50_ms: float | None
    generator_saturated: bool
    generator_cpu: dict[str, float | None]
    generator_busy: dict[str, float | None]
    generator_busy_max: float | None
    generator_cpu_saturated: bool
    slo_passed: bool
    slo_reason: str
    step: int
    phase: str
    profile: str
    window: Any
    started_s: float
    measure_s: float
    counted: Any
    truncated: bool  # the run ended inside the step's window
    workers_lost: list[str]
    lost_calls: int  # calls in flight on those workers (failed, not in error_rate)
    agent_rss_mb: float | None  # the bundled agent's memory at the step's end
    agent_fds: int | None
    arrivals_s: float  # the step's new callers joined spread evenly over this long (0: at once)
    cooled_s: float  # seconds with no callers before the step (after a missed SLO; absent: none)


class SloResultRow(TypedDict):
    """One scenario x SLO verdict (run.json `slo_results`); simulator/slo.py."""

    scenario: str
    metric: str  # the Slo field, e.g. latency_p95_ms
    limit: float
    value: float | None  # None: no data, which fails
    n: int
    passed: bool


class RunDirectoryError(VoxsimError):
    """A run directory this voxsim cannot read (written by a newer one)."""

    exit_code = EXIT_BAD_INPUT


def check_schema_version(run: dict[str, Any], where: Path | str) -> None:
    """Refuse a run.json whose `schema_version` this voxsim does not know.

    No version: a run written before versions existed, read as it is. A version
    up to `SCHEMA_VERSION`: read. Anything else: `RunDirectoryError`.
    """
    version = run.get("schema_version")
    if version is None:
        return
    if (
        isinstance(version, int)
        and not isinstance(version, bool)
        and 1 <= version <= SCHEMA_VERSION
    ):
        return
    raise RunDirectoryError(
        f"run directory schema_version {repr(version)[:20]} is not one this voxsim reads "
        f"(it reads 1 to {SCHEMA_VERSION}, or none)",
        where=str(where),
        fix="read it with the voxsim that wrote it (run.json `versions.voxsim`), or upgrade voxsim",
    )
