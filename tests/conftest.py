"""Shared fixtures: the real bundled pipeline agent, served over WebSocket on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest


def serve(argv: list[str]) -> Iterator[str]:
    """Run a server process that prints {"url": ...} first; yield the URL, then stop it."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        url = json.loads(line)["url"]
    except (ValueError, KeyError):
        proc.kill()
        raise RuntimeError(f"agent did not start: {line!r}") from None
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def pipeline_agent_url() -> Iterator[str]:
    """`voxsim agent serve --kind pipeline --port 0` as a child process; yields its ws:// URL."""
    argv = [sys.executable, "-m", "simulator.cli", "agent", "serve", "--kind", "pipeline"]
    for url in serve([*argv, "--port", "0"]):
        assert url.startswith("ws://127.0.0.1:")
        yield url
