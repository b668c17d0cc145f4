"""Compare a run with a baseline run: per metric, the change and its confidence interval.

Why this shape:
- A CI gate must not cry wolf on noise, nor wave through a real slowdown. A
  change is flagged as a regression only when it is *both* statistically
  significant (its 95 % interval excludes zero, on the worse side) *and*
  larger than a tolerance the user sets (a 3 ms P95 shift can be significant
  on 10,000 turns and still not matter).
- Percentiles get a bootstrap interval (each run resampled independently,
  seeded, so the same two run directories always give the same table); rates
  get the Newcombe hybrid-score interval for a difference of two proportions,
  which behaves at 0 % and 100 % where the plain Wald interval does not
  (both computed in simulator/metrics/stats.py, with every other interval).
- Everything is computed from turns.jsonl rows of both run directories, per
  scenario, so each figure traces back to rows (DESIGN.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reports.rundir import BASELINE_JSON, RunData, write_atomic
from simulator.errors import UsageError
from simulator.metrics.reliability import reliability
from simulator.metrics.stats import (
    as_number,
    bootstrap_percentile_diff,
    percentile,
    two_proportion_diff,
)
from simulator.metrics.summary import is_caller_turn, reply_latencies
from simulator.metrics.wer import aggregate
from simulator.rows import CallRow, TurnRow

#: fewer latencies than this on either side: the bootstrap cannot see the
#: spread (one turn resamples to itself), so no change is called significant
MIN_BOOTSTRAP_N = 4
CONFIDENCE = 0.95

#: latency percentiles compared, metric name -> percentile
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("latency_p50_ms", 50.0),
    ("latency_p95_ms", 95.0),
    ("latency_p99_ms", 99.0),
)


@dataclass(frozen=True)
class Tolerance:
    """How large a significant change must be to count as a regression.

    `latency_ms` applies to the latency percentiles (absolute ms), `rate` to
    the rates (absolute difference of proportions, 0.05 = 5 points).
    """

    latency_ms: float = 50.0
    rate: float = 0.05


@dataclass(frozen=True)
class MetricChange:
    """One metric of one scenario, baseline vs current; `delta` = current - baseline."""

    scenario: str
    metric: str
    method: str  # "bootstrap" | "two-proportion"
    unit: str  # "ms" | "rate"
    baseline: float | None
    current: float | None
    n_baseline: int
    n_current: int
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    tolerance: float
    significant: bool
    regression: bool

    def line(self) -> str:
        """One line, e.g. "smoke latency_p95_ms +151.2 ms [+140.3, +160.9] (n=8 vs 8 ...)"."""
        fmt = _fmt_ms if self.unit == "ms" else _fmt_rate
        if self.delta is None or self.ci_low is None or self.ci_high is None:
            what = "no data" if self.delta is None else f"{fmt(self.delta)}, too few turns for a CI"
            return (
                f"{self.scenario} {self.metric}: {what} (n={self.n_current} vs {self.n_baseline})"
            )
        verdict = (
            "REGRESSION"
            if self.regression
            else "significant, within tolerance"
            if self.significant
            else "no significant change"
        )
        return (
            f"{self.scenario} {self.metric} {fmt(self.delta)} "
            f"[{fmt(self.ci_low)}, {fmt(self.ci_high)}] "
            f"(n={self.n_current} vs {self.n_baseline}, "
            f"tolerance {fmt(self.tolerance, sign=False)}) {verdict}"
        )


@dataclass
class Comparison:
    """The whole table, plus where the two runs came from."""

    baseline_dir: str
    current_dir: str
    tolerance: Tolerance
    changes: list[MetricChange] = field(default_factory=list)

    @property
    def regressions(self) -> list[MetricChange]:
        """The changes flagged as regressions."""
        return [c for c in self.changes if c.regression]

    def to_json(self) -> dict[str, Any]:
        """Plain data for baseline.json (read by the report and JUnit)."""
        return {
            "baseline_dir": self.baseline_dir,
            "current_dir": self.current_dir,
            "tolerance": asdict(self.tolerance),
            "confidence": CONFIDENCE,
            "changes": [asdict(c) for c in self.changes],
            "regressions": len(self.regressions),
        }


def _fmt_ms(value: float, sign: bool = True) -> str:
    return f"{value:+.1f} ms" if sign else f"{value:.1f} ms"


def _fmt_rate(value: float, sign: bool = True) -> str:
    return f"{value * 100:+.1f} pt" if sign else f"{value * 100:.1f} pt"


# ---------------------------------------------------------------- metrics from rows


def _by_scenario(turns: Sequence[TurnRow]) -> dict[str, list[TurnRow]]:
    out: dict[str, list[TurnRow]] = {}
    for row in turns:
        if is_caller_turn(row):
            out.setdefault(str(row.get("scenario")), []).append(row)
    return out


def _counts(rows: Sequence[TurnRow], metric: str) -> tuple[int, int]:
    """(events, trials) of a rate metric over one scenario's caller turns."""
    if metric == "no_reply_rate":
        return sum(1 for r in rows if as_number(r.get("latency_ms")) is None), len(rows)
    if metric == "turn_error_rate":
        return sum(1 for r in rows if r.get("error")), len(rows)
    # wer: word edits over reference words (corpus WER, as the SLO computes it)
    corpus = aggregate(rows, "wer")
    words = int(corpus["ref_words"] or 0)
    edits = sum(int(corpus[k] or 0) for k in ("substitutions", "deletions", "insertions"))
    return min(edits, words), words


RATES = ("no_reply_rate", "turn_error_rate", "wer")


def _failed_calls(calls: Sequence[CallRow] | None) -> dict[str, tuple[int, int]]:
    """Per scenario (failed, decided) calls by their verdict: the judged fail rate, counted
    by metrics.reliability (calls without a verdict, or undecided, are left out)."""
    by_scenario: dict[str, list[CallRow]] = {}
    for call in calls or []:
        by_scenario.setdefault(str(call.get("scenario")), []).append(call)
    out: dict[str, tuple[int, int]] = {}
    for name, group in by_scenario.items():
        figures = reliability(group)
        if figures is not None:
            out[name] = (figures["n"] - figures["passed"], figures["n"])
    return out


def compare_rows(
    baseline: Sequence[TurnRow],
    current: Sequence[TurnRow],
    tolerance: Tolerance,
    baseline_dir: str = "",
    current_dir: str = "",
    baseline_calls: Sequence[CallRow] | None = None,
    current_calls: Sequence[CallRow] | None = None,
) -> Comparison:
    """Compare turn rows (and, when given, call verdicts: `call_fail_rate`, the share of
    calls that did not pass their checks and judged criteria) per scenario in both runs."""
    base, cur = _by_scenario(baseline), _by_scenario(current)
    comparison = Comparison(baseline_dir, current_dir, tolerance)
    for name in sorted(set(base) & set(cur)):
        la, lb = reply_latencies(base[name]), reply_latencies(cur[name])
        for metric, q in PERCENTILES:
            interval: tuple[float | None, float | None, float | None] = (None, None, None)
            values = (percentile(la, q), percentile(lb, q))
            if values[0] is not None and values[1] is not None:
                interval = (values[1] - values[0], None, None)
            if min(len(la), len(lb)) >= MIN_BOOTSTRAP_N:
                interval = bootstrap_percentile_diff(la, lb, q)
            comparison.changes.append(
                _change(
                    name,
                    metric,
                    "bootstrap",
                    "ms",
                    values,
                    (len(la), len(lb)),
                    interval,
                    tolerance.latency_ms,
                )
            )
        fails_a, fails_b = _failed_calls(baseline_calls), _failed_calls(current_calls)
        for metric in (*RATES, "call_fail_rate"):
            if metric == "call_fail_rate":
                (ka, na), (kb, nb) = fails_a.get(name, (0, 0)), fails_b.get(name, (0, 0))
            else:
                ka, na = _counts(base[name], metric)
                kb, nb = _counts(cur[name], metric)
            if na == 0 or nb == 0:
                continue  # e.g. no WER fields in this run: nothing to compare
            delta, low, high = two_proportion_diff(ka, na, kb, nb)
            comparison.changes.append(
                _change(
                    name,
                    metric,
                    "two-proportion",
                    "rate",
                    (ka / na, kb / nb),
                    (na, nb),
                    (delta, low, high),
                    tolerance.rate,
                )
            )
    return comparison


def _change(
    scenario: str,
    metric: str,
    method: str,
    unit: str,
    values: tuple[float | None, float | None],
    ns: tuple[int, int],
    interval: tuple[float | None, float | None, float | None],
    tolerance: float,
) -> MetricChange:
    delta, low, high = interval
    # Every metric here is "higher is worse": worse means the interval lies above 0.
    significant = low is not None and high is not None and (low > 0 or high < 0)
    regression = bool(
        significant and low is not None and low > 0 and delta is not None and delta > tolerance
    )
    return MetricChange(
        scenario=scenario,
        metric=metric,
        method=method,
        unit=unit,
        baseline=values[0],
        current=values[1],
        n_baseline=ns[0],
        n_current=ns[1],
        delta=delta,
        ci_low=low,
        ci_high=high,
        tolerance=tolerance,
        significant=significant,
        regression=regression,
    )


def check_run_dir(path: Path, label: str) -> RunData:
    """Load a run directory or raise UsageError (exit 2) naming the flag and the fix."""
    try:
        return RunData.load(path)
    except FileNotFoundError:
        raise UsageError(
            "not a voxsim run directory (no run.json, calls.jsonl or turns.jsonl)",
            where=f"{label} {path}",
            fix="pass a DIR that `voxsim run --out DIR` wrote",
        ) from None


def compare_dirs(current: Path, baseline: Path, tolerance: Tolerance | None = None) -> Comparison:
    """Compare two run directories; bad directories or nothing in common raise UsageError."""
    cur, base = check_run_dir(current, "run"), check_run_dir(baseline, "--baseline")
    comparison = compare_rows(
        base.turns,
        cur.turns,
        tolerance or Tolerance(),
        str(baseline),
        str(current),
        base.calls,
        cur.calls,
    )
    if not comparison.changes:
        raise UsageError(
            "the runs share no scenario with measured caller turns",
            where=f"{current} vs {baseline}",
            fix="compare runs of the same scenario files",
        )
    return comparison


def write_comparison(run_dir: Path, comparison: Comparison) -> Path:
    """Write baseline.json into the run directory (the report and junit.xml read it)."""
    body = json.dumps(comparison.to_json(), indent=2).encode("utf-8")
    return write_atomic(Path(run_dir) / BASELINE_JSON, body)


def render_table(comparison: Comparison) -> str:
    """The comparison as a plain-text table for the terminal."""
    head = (
        f"{'scenario':<18} {'metric':<16} {'baseline':>10} {'current':>10} {'change':>11} "
        f"{'95% CI':>23} {'n cur/base':>11}  verdict"
    )
    lines = [head, "-" * len(head)]
    for c in comparison.changes:
        fmt = _fmt_ms if c.unit == "ms" else _fmt_rate
        plain = (lambda v: f"{v:.1f}") if c.unit == "ms" else (lambda v: f"{v * 100:.1f}%")
        if c.delta is None or c.ci_low is None or c.ci_high is None:
            cells = (
                plain(c.baseline) if c.baseline is not None else "—",
                plain(c.current) if c.current is not None else "—",
                "—" if c.delta is None else fmt(c.delta),
                "—",
            )
            verdict = "no data" if c.delta is None else f"too few turns (< {MIN_BOOTSTRAP_N})"
        else:
            cells = (
                plain(c.baseline) if c.baseline is not None else "—",
                plain(c.current) if c.current is not None else "—",
                fmt(c.delta),
                f"[{fmt(c.ci_low)}, {fmt(c.ci_high)}]",
            )
            verdict = (
                "REGRESSION"
                if c.regression
                else "significant (within tolerance)"
                if c.significant
                else "ok"
            )
        lines.append(
            f"{c.scenario[:18]:<18} {c.metric:<16} {cells[0]:>10} {cells[1]:>10} {cells[2]:>11} "
            f"{cells[3]:>23} {f'{c.n_current}/{c.n_baseline}':>11}  {verdict}"
        )
    tol = comparison.tolerance
    lines.append(
        f"regression = 95% CI above 0 and change > tolerance "
        f"({tol.latency_ms:g} ms, {tol.rate * 100:g} pt); "
        f"{len(comparison.regressions)} regression(s)"
    )
    return "\n".join(lines)
