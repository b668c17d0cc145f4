"""Hostile and careless command lines: one line on stderr and the right exit code.

Each case here was once a traceback or a wrong exit code (issue 15): bad
`--out`, an out-of-range port, malformed agent URLs, a reader that closes
the pipe, and any exception nobody expected (exit 3, traceback in a log).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from simulator import cli
from simulator.cli import main

REPO = Path(__file__).resolve().parents[2]
SMOKE = str(REPO / "scenarios" / "smoke.yaml")


def fails(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run `voxsim ARGV` in this process; its exit code and its one stderr line."""
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    code = stop.value.code
    assert isinstance(code, int)
    return code, lines[0]


def test_deep_yaml_and_a_huge_matrix_exit_2_in_well_under_a_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: x\nturns:\n  - say: hi\ndescription: " + "[" * 100_000 + "\n")
    huge = tmp_path / "huge.yaml"
    keys = "".join(f"  caller.k{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for i in range(9))
    huge.write_text(f"name: big\nmatrix:\n{keys}turns:\n  - say: hi\n")
    for f, hint in ((deep, "deeper than"), (huge, "1,000,000,000 calls")):
        began = time.thread_time()  # CPU time: other work on the box cannot move it
        code, line = fails(capsys, "validate", str(f))
        assert time.thread_time() - began < 1.0
        assert code == 2 and line.startswith(f"voxsim: {f}:") and hint in line, line


def test_validate_counts_calls_without_building_them_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "grid.yaml"
    f.write_text("name: g\nrepeat: 3\nmatrix:\n  caller.pitch: [10, 20]\nturns:\n  - say: hi\n")
    with pytest.raises(SystemExit) as stop:
        main(["validate", str(f)])
    assert stop.value.code == 0
    assert "6 calls" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "load", "capacity"])
def test_an_out_that_is_a_file_under_a_file_or_unwritable_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    extra = {"run": [], "load": ["--profile", "soak", "--concurrency", "1"], "capacity": []}
    target = SMOKE if command != "capacity" else str(REPO / "scenarios" / "capacity.yaml")
    for out, hint in (
        (a_file, "is a file"),
        (a_file / "run", "is a file"),
        (Path("/sys/voxsim-cannot-write/run"), "cannot create"),
    ):
        code, line = fails(capsys, command, target, *extra[command], "--out", str(out))
        assert code == 2 and line.startswith("voxsim: --out") and hint in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_an_out_of_range_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for port in ("99999", "-1"):
        code, line = fails(capsys, "agent", "serve", "--port", port)
        assert code == 2 and "--port" in line and "0..65535" in line, line


@pytest.mark.parametrize("url", ["ws://127.0.0.1:99999/ws", "ws://", "ws://[::1", "sip://x"])
def test_a_malformed_agent_url_is_a_usage_error_not_an_unreachable_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    out = tmp_path / "run"
    code, line = fails(capsys, "run", SMOKE, "--agent", url, "--out", str(out))
    assert code == 2 and "--agent" in line, line
    assert not out.exists()
    code, line = fails(
        capsys, "load", SMOKE, "--profile", "soak", "--concurrency", "1", "--agent", url
    )
    assert code == 2 and "--agent" in line, line


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `voxsim voices | head -0`: nobody reads
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "voices"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == "" and proc.returncode == 0


def test_an_unexpected_exception_is_exit_3_one_line_and_a_logged_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(args: object) -> int:
        raise RuntimeError("something nobody expected\nsecond line")

    monkeypatch.setattr(cli, "_dispatch", boom)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    # No run directory: the traceback goes to a temp file the line names.
    code, line = fails(capsys, "validate", SMOKE)
    assert code == 3 and "RuntimeError: something nobody expected" in line, line
    match = re.search(r"traceback in (\S+)", line)
    assert match, line
    log = Path(match.group(1))
    assert log.parent == tmp_path and "Traceback" in log.read_text()

    # A run directory: the traceback goes into it.
    out = tmp_path / "run"
    out.mkdir()
    code, line = fails(capsys, "run", SMOKE, "--out", str(out))
    assert code == 3 and f"traceback in {out / 'voxsim-error.log'}" in line, line
    assert "raise RuntimeError" in (out / "voxsim-error.log").read_text()
