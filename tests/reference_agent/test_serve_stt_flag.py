"""`voxsim agent serve --stt`: the choices, and one line (exit 2) without Whisper installed."""

from __future__ import annotations

import subprocess
import sys


def test_whisper_without_faster_whisper_is_one_line_and_exit_2() -> None:
    # The same CLI with faster_whisper made unimportable, as in a venv without it.
    code = (
        "import sys; sys.modules['faster_whisper'] = None; from simulator.cli import main; "
        "main(['agent', 'serve', '--port', '0', '--stt', 'whisper'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("voxsim: --stt whisper: faster-whisper or its model wheel")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_an_unknown_recognizer_is_a_usage_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "agent", "serve", "--stt", "vosk"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "--stt" in out.stderr and "whisper" in out.stderr
