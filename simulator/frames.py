"""A run directory as pandas DataFrames: what a team opens in a notebook.

`load_run(DIR)` reads the same tables `voxsim report` reads (with the same
tolerance for a run killed mid-write) and gives each column one dtype, so a
`turns.latency_ms.quantile(0.95)` or a `groupby("scenario")` works without
casting: text is `string`, whole numbers `Int64`, measurements `float64`
(missing = NaN), flags `boolean`, `*_at` times UTC datetimes. A nested object
one level deep (`stages`, `turn_taking`, `verdict`, `decision`) becomes one
column per key, named `stages.stt_ms`; deeper objects and lists stay Python
objects. docs/metrics.md, "In pandas", lists the columns.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports.rundir import RunData


@dataclass(frozen=True)
class RunFrames:
    """One run's tables; an absent or empty table is an empty DataFrame."""

    run: dict[str, Any] = field(default_factory=dict)
    calls: pd.DataFrame = field(default_factory=pd.DataFrame)
    turns: pd.DataFrame = field(default_factory=pd.DataFrame)
    spans: pd.DataFrame = field(default_factory=pd.DataFrame)
    load: pd.DataFrame = field(default_factory=pd.DataFrame)


def load_run(run_dir: Path | str) -> RunFrames:
    """The run directory's calls, turns, spans and load steps as typed DataFrames.

    Raises FileNotFoundError when `run_dir` is not a run directory.
    """
    data = RunData.load(run_dir)
    spans = frame(data.spans)
    if {"start_ns", "end_ns"} <= set(spans.columns):
        spans["duration_ms"] = (spans["end_ns"] - spans["start_ns"]).astype("float64") / 1e6
    return RunFrames(
        run=data.run,
        calls=frame(data.calls),
        turns=frame(data.turns),
        spans=spans,
        load=frame(data.load_steps),
    )


def frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame: objects one level deep flattened, each column typed."""
    if not rows:
        return pd.DataFrame()
    df = pd.json_normalize(rows, max_level=1)
    nested = {str(c).split(".", 1)[0] for c in df.columns if "." in str(c)}
    # `task: null` in one row and an object in another: the object's keys are the columns
    df = df.drop(columns=[c for c in df.columns if c in nested and df[c].isna().all()])
    for name in df.columns:
        df[name] = _typed(str(name), df[name])
    return df


def _typed(name: str, column: pd.Series) -> pd.Series:
    """The one dtype a column's non-missing values share; `object` when they are mixed."""
    values = [v for v in column if v is not None and not _is_nan(v)]
    if not values:
        return column.astype("float64") if len(column) else column
    if all(isinstance(v, bool) for v in values):
        return column.astype("boolean")
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return column.astype("Int64")
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        return pd.to_numeric(column, errors="coerce").astype("float64")
    if all(isinstance(v, str) for v in values):
        if name.endswith("_at"):
            stamps = pd.to_datetime(column, utc=True, errors="coerce")
            if stamps.notna().sum() == len(values):
                return stamps
        return column.astype("string")
    return column


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value
