"""Python API for teams that write their own tests: `run_scenario(path) -> ScenarioResult`.

```python
from simulator import run_scenario

def test_booking_is_fast():
    result = run_scenario("scenarios/smoke.yaml")       # starts the bundled agent
    result.assert_ok()                                    # names metric, value, n, limit
    assert result.latencies_ms and max(result.latencies_ms) < 2000
```

It is the same code path as `voxsim run` (run directory, SLOs, junit.xml,
report.html, optional baseline), so a test and the CLI never disagree.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference_agent.served import ServedProcess, serve_argv
from reports.junit import slo_message
from reports.rundir import RunData
from simulator.baseline import Comparison, Tolerance
from simulator.errors import EXIT_OK
from simulator.rows import CallRow, SloResultRow, TurnRow

__all__ = ["BundledAgent", "ScenarioResult", "arun_scenario", "run_scenario"]


@dataclass
class ScenarioResult:
    """What one `run_scenario` call measured; every figure is also in `out_dir`."""

    out_dir: Path
    exit_code: int
    slo_results: list[SloResultRow]
    run: dict[str, Any] = field(default_factory=dict)
    turns: list[TurnRow] = field(default_factory=list)
    calls: list[CallRow] = field(default_factory=list)
    comparison: Comparison | None = None
    report: Path | None = None

    @property
    def passed(self) -> bool:
        """True when every SLO held, no call failed and no regression was flagged."""
        return self.exit_code == EXIT_OK

    @property
    def latencies_ms(self) -> list[float]:
        """Measured voice-to-voice latency of the caller's `say` turns that got a reply."""
        return [
            float(ms)
            for t in self.turns
            if t.get("kind") == "say" and isinstance(ms := t.get("latency_ms"), int | float)
        ]

    def failures(self) -> list[str]:
        """One line per problem: missed SLO (metric, value, n, limit), failed call, regression."""
        lines = [
            f"{r.get('scenario')}: {slo_message(r)}"
            for r in self.slo_results
            if not r.get("passed")
        ]
        lines += [
            f"{c.get('call_id')}: call {c.get('status')}: {c.get('error')}"
            for c in self.calls
            if c.get("status") != "ok"
        ]
        if self.run.get("error"):
            lines.append(f"run failed: {self.run['error']}")
        if self.comparison is not None:
            lines += [f"regression vs baseline: {c.line()}" for c in self.comparison.regressions]
        if not lines and not self.passed:
            lines.append(f"run ended with exit code {self.exit_code} (see {self.out_dir})")
        return lines

    def assert_ok(self) -> None:
        """Raise AssertionError listing every failure; the message is ready for a test report."""
        if not self.passed:
            raise AssertionError("\n".join(self.failures()))


async def arun_scenario(
    scenario: str | Path,
    *,
    agent: str | None = None,
    out: str | Path | None = None,
    baseline: str | Path | None = None,
    tolerance: Tolerance | None = None,
    audio_format: str = "wav",
) -> ScenarioResult:
    """Async form of `run_scenario`, for tests that already run an event loop."""
    from simulator.runner import run_files

    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="voxsim-"))
    outcome = await run_files(
        [str(scenario)],
        out_dir,
        agent=agent,
        baseline=Path(baseline) if baseline is not None else None,
        tolerance=tolerance,
        audio_format=audio_format,
    )
    data = RunData.load(out_dir)
    return ScenarioResult(
        out_dir=out_dir,
        exit_code=outcome.exit_code,
        slo_results=outcome.slo_results,
        run=data.run,
        turns=data.turns,
        calls=data.calls,
        comparison=outcome.comparison,
        report=outcome.report,
    )


def run_scenario(
    scenario: str | Path,
    *,
    agent: str | None = None,
    out: str | Path | None = None,
    baseline: str | Path | None = None,
    tolerance: Tolerance | None = None,
    audio_format: str = "wav",
) -> ScenarioResult:
    """Run one scenario file (or a directory of them) and return what it measured.

    `agent`: None or "pipeline" starts the bundled agent for this call (pass a
    `BundledAgent().url` to share one across tests), or a ws://HOST:PORT/PATH
    URL of your agent. `out`: run directory (default: a new temp dir).
    `baseline`: a run directory to compare with (`tolerance` sets what counts
    as a regression). `audio_format`: "wav" or "flac", of the calls' recordings.
    Bad input raises ScenarioError/UsageError.
    """
    return asyncio.run(
        arun_scenario(
            scenario,
            agent=agent,
            out=out,
            baseline=baseline,
            tolerance=tolerance,
            audio_format=audio_format,
        )
    )


class BundledAgent(ServedProcess):
    """The bundled pipeline agent as a child process that outlives event loops.

    `voxsim run` starts its agent inside its own event loop; a test session
    runs many loops, so this one is a plain subprocess: start once, share the
    URL (`start()` returns it, idempotent), `stop()` at the end.
    """

    def __init__(self, kind: str = "pipeline", timeout_s: float = 60.0) -> None:
        super().__init__(serve_argv(kind), f"bundled {kind} agent", timeout_s)
        self.kind = kind
