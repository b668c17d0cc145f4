"""Shared fixtures: the real bundled pipeline agent, served over WebSocket on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reference_agent.served import ServedProcess, serve_argv


def serve(argv: list[str]) -> Iterator[str]:
    """Run a server process that prints {"url": ...} first; yield the URL, then stop it."""
    server = ServedProcess(argv, f"server {argv[-1]}", timeout_s=None)
    try:
        yield server.start()
    finally:  # also when the caller closes the generator early
        server.stop()


def serve_bundled(kind: str) -> Iterator[str]:
    """`voxsim agent serve --kind KIND --port 0` as a child process; yields its ws:// URL."""
    server = serve(serve_argv(kind))
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
