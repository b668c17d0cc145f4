"""The run directory's schema: one writer (RunStore) stamps a version, one reader
(RunData, and `simulator.load_run` on top of it) checks it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports.rundir import RunData
from simulator.cli import main
from simulator.errors import EXIT_BAD_INPUT
from simulator.frames import load_run
from simulator.rows import (
    SCHEMA_VERSION,
    CallRow,
    RunDirectoryError,
    SloResultRow,
    SpanRow,
    TurnRow,
)
from simulator.runner import run_files
from simulator.store import RunStore
from tests.conftest import serve

HERE = Path(__file__).resolve().parent

TURN: TurnRow = {
    "call_id": "c0",
    "scenario": "smoke",
    "turn": 0,
    "kind": "say",
    "caller_text": "book tuesday",
    "speech_end_s": 1.25,
    "agent_onset_s": 1.75,
    "latency_ms": 500.0,
    "wer": 0.0,
    "wer_ref_words": 2,
    "stages": {"llm_ms": 210.5},
    "trace_id": "ab" * 16,
    "error": None,
}
CALL: CallRow = {"call_id": "c0", "scenario": "smoke", "status": "ok", "error": None, "seed": 7}
SLO: SloResultRow = {
    "scenario": "smoke",
    "metric": "latency_p95_ms",
    "limit": 800.0,
    "value": 500.0,
    "n": 1,
    "passed": True,
}


def _write_run(root: Path) -> None:
    store = RunStore(root)
    store.start("r1", [{"name": "smoke", "seed": 7}], {"kind": "pipeline", "url": None})
    store.add_turn(TURN)
    store.add_call(CALL)
    store.run["slo_results"] = [SLO]
    store.finish("completed", 0)
    store.close()


def _set_version(root: Path, version: object) -> None:
    path = root / "run.json"
    run = json.loads(path.read_text(encoding="utf-8"))
    if version is None:
        del run["schema_version"]
    else:
        run["schema_version"] = version
    path.write_text(json.dumps(run), encoding="utf-8")


def test_a_run_written_by_the_store_reads_back_row_for_row(tmp_path: Path) -> None:
    _write_run(tmp_path)
    data = RunData.load(tmp_path)
    assert data.turns == [TURN]
    assert data.calls == [CALL]
    assert data.run["slo_results"] == [SLO]
    assert data.run["status"] == "completed"


def test_run_json_carries_the_schema_version(tmp_path: Path) -> None:
    _write_run(tmp_path)
    run = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert run["schema_version"] == SCHEMA_VERSION


def test_a_run_without_a_version_is_an_older_run_and_is_read(tmp_path: Path) -> None:
    _write_run(tmp_path)
    _set_version(tmp_path, None)
    assert RunData.load(tmp_path).turns == [TURN]
    assert load_run(tmp_path).turns["latency_ms"].tolist() == [500.0]


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, "2.0", 0, True])
def test_a_run_with_a_version_this_voxsim_does_not_know_is_refused(
    tmp_path: Path, version: object
) -> None:
    _write_run(tmp_path)
    _set_version(tmp_path, version)
    with pytest.raises(RunDirectoryError) as caught:
        RunData.load(tmp_path)
    line = caught.value.one_line()
    assert str(tmp_path / "run.json") in line  # where
    assert "schema_version" in line  # what
    assert "upgrade voxsim" in line  # how to fix
    assert "\n" not in line
    with pytest.raises(RunDirectoryError):
        load_run(tmp_path)


def test_voxsim_report_on_a_newer_run_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_run(tmp_path)
    _set_version(tmp_path, SCHEMA_VERSION + 1)
    with pytest.raises(SystemExit) as exited:
        main(["report", str(tmp_path)])
    assert exited.value.code == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("voxsim: ") and "schema_version" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "report.html").exists()


@pytest.fixture(scope="module")
def otlp_agent_url() -> Iterator[str]:
    """tests/simulator/otlp_agent.py in its own process: it answers and exports spans."""
    yield from serve([sys.executable, str(HERE / "otlp_agent.py")])


def _fields(row_type: Any) -> set[str]:
    return set(row_type.__required_keys__ | row_type.__optional_keys__)


async def test_every_field_a_real_run_writes_is_named_in_the_schema(
    tmp_path: Path, otlp_agent_url: str
) -> None:
    scenario = tmp_path / "schema.yaml"
    scenario.write_text(
        "name: schema\nagent: {kind: websocket, url: " + otlp_agent_url + "}\n"
        "turns:\n  - say: I would like to book an appointment\n  - say: Thank you goodbye\n"
        "slo: {latency_p99_ms: 5000, wer_max: 1.0}\n"
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out, agent=otlp_agent_url)
    data = RunData.load(out)
    assert data.run["schema_version"] == SCHEMA_VERSION
    tables = [
        (data.turns, TurnRow),
        (data.calls, CallRow),
        (data.spans, SpanRow),
        (data.run["slo_results"], SloResultRow),
    ]
    for rows, row_type in tables:
        assert rows, row_type.__name__
        for row in rows:
            assert set(row) <= _fields(row_type), (row_type.__name__, set(row) - _fields(row_type))
