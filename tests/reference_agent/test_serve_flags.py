"""`voxsim agent serve` fault flags are checked like scenario fields: one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--llm-error-rate", "2"],
            "voxsim: --llm-error-rate: Input should be less than or equal to 1",
        ),
        (
            ["--tts-stall-ms", "-5"],
            "voxsim: --tts-stall-ms: Input should be greater than or equal to 0",
        ),
        (["--stt-latency-distribution", "zipf"], "voxsim: argument --stt-latency-distribution"),
    ],
)
def test_bad_fault_flags_are_one_line_and_exit_2(flags: list[str], message: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "agent", "serve", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.startswith(message) and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


def test_smollm2_without_the_llm_extra_is_one_line_and_exit_2() -> None:
    # The same CLI with llama_cpp made unimportable, as in a venv without `.[llm]`.
    code = (
        "import sys; sys.modules['llama_cpp'] = None; from simulator.cli import main; "
        "main(['agent', 'serve', '--port', '0', '--llm', 'smollm2'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("voxsim: --llm smollm2: SmolLM2 on llama-cpp-python")
    assert "make llm" in out.stderr and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr
