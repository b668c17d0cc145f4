"""Shared by the goal-driven caller and call judge tests: the project's own offline LLM server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from reference_agent import smollm2

needs_smollm2 = pytest.mark.skipif(
    not smollm2.available(), reason="SmolLM2 not installed: make llm"
)


@pytest.fixture(scope="session")
def smollm2_url() -> Iterator[str]:
    """`python -m reference_agent.llm_server --backend smollm2` on a free port."""
    argv = [sys.executable, "-m", "reference_agent.llm_server", "--backend", "smollm2"]
    proc = subprocess.Popen([*argv, "--port", "0"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
    try:
        assert found, f"llm_server did not start: {line!r}"
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
