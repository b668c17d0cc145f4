"""Bundled agents as child processes; every server answers on every transport's route."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest


def routes(ws_url: str) -> dict[str, str]:
    """The URL of each transport on the server whose native URL is `ws_url`."""
    base = ws_url.removeprefix("ws://").removesuffix("/ws")
    return {
        "websocket": f"ws://{base}/ws",
        "twilio": f"twilio+ws://{base}/twilio",
        "realtime": f"realtime+ws://{base}/v1/realtime",
        "webrtc": f"webrtc+http://{base}/offer",
        "http": f"http://{base}",
    }


@pytest.fixture(scope="session")
def e2e_agent_url() -> Iterator[str]:
    """`voxsim agent serve --kind e2e --transport websocket` on a free port; its ws:// URL."""
    cmd = [sys.executable, "-m", "simulator.cli", "agent", "serve", "--kind", "e2e", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        url = json.loads(line)["url"]
    except (ValueError, KeyError):
        proc.kill()
        raise RuntimeError(f"e2e agent did not start: {line!r}") from None
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
