"""Fixtures of the load tests: a test agent with known latency, `voxsim load` as a child."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent

#: A short call: one caller sentence, a 200 ms tone back.
SCENARIO = """\
name: loadtest
seed: 3
caller: {voice: en-us, rate_wpm: 200}
turns:
  - say: "Where is my order"
slo:
  latency_p95_ms: 500
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "loadtest.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture
def slow_agent() -> Iterator[Callable[..., dict[str, Any]]]:
    """Start tests/simulator/load/slow_agent.py with flags; returns {"url", "pid"}."""
    procs: list[subprocess.Popen[str]] = []

    def start(prefix: Sequence[str] = (), **flags: float | str) -> dict[str, Any]:
        argv = [*prefix, sys.executable, str(HERE / "slow_agent.py")]
        for key, value in flags.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        info: dict[str, Any] = json.loads(proc.stdout.readline())
        return info

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def voxsim_load() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `voxsim load SCENARIO --out OUT FLAGS...` as a child in its own process group."""
    procs: list[subprocess.Popen[str]] = []

    def start(
        scenario: Path, out: Path, *flags: str, background: bool = False
    ) -> subprocess.Popen[str]:
        """`background`: start it as `voxsim load ... &` in a script would, SIGINT ignored."""
        argv = [sys.executable, "-m", "simulator.cli", "load", str(scenario), "--out", str(out)]
        proc = subprocess.Popen(
            [*argv, *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_ignore_sigint if background else None,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ignore_sigint() -> None:
    """In the child before exec: what a non-interactive shell does to a background job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
