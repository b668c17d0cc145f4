"""Shared fixtures: the real bundled pipeline agent, served over WebSocket on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

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
    try:
        yield url
    finally:  # also when the caller closes the generator early
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def serve_bundled(kind: str) -> Iterator[str]:
    """`voxsim agent serve --kind KIND --port 0` as a child process; yields its ws:// URL."""
    argv = [sys.executable, "-m", "simulator.cli", "agent", "serve", "--kind", kind]
    server = serve([*argv, "--port", "0"])
    try:
        url = next(server)
        assert url.startswith("ws://127.0.0.1:")
        yield url
    finally:
        server.close()


@pytest.fixture(scope="session")
def bundled_agent() -> Callable[[str], Iterator[str]]:
    """Lets other conftests start a bundled agent kind the same way."""
    return serve_bundled


@pytest.fixture(scope="session")
def pipeline_agent_url() -> Iterator[str]:
    """The bundled pipeline agent in its own process; its ws:// URL."""
    yield from serve_bundled("pipeline")
