"""Caller settings with bad values fail at load time, naming the field and its range."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.errors import ScenarioError
from simulator.scenario import parse_scenario

BASE = "name: x\ncaller:\n{caller}\nturns:\n  - say: hi\n"

BAD = {
    "negative_rt60": ("  room: {rt60_s: -0.5}", "caller.room.rt60_s", "0.05 < x <= 3.0"),
    "unknown_voice": ("  voice: klingon", "caller", "voice 'klingon' is not an espeak voice"),
    "unknown_variant": ("  voice: en-us+zzz", "caller", "voxsim voices"),
    "snr_as_text": ("  noise: {kind: pink, snr_db: loud}", "caller.noise.snr_db", "-10 <= x <= 60"),
    "missing_noise_file": (
        "  noise: {kind: file, file: /no/such/noise.wav}",
        "caller.noise",
        "noise file not found: /no/such/noise.wav",
    ),
    "file_kind_without_file": ("  noise: {kind: file}", "caller.noise", "needs file"),
    "unknown_codec": ("  channel: {codec: gsm}", "caller.channel.codec", "'mulaw'"),
    "piper_voice": ("  engine: piper\n  voice: en-us", "caller", "allowed: joe"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_caller_value_names_the_field_and_what_is_allowed(case: str) -> None:
    caller, field, hint = BAD[case]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(BASE.format(caller=caller), source="f.yaml")
    line = info.value.one_line()
    assert any(f"f.yaml:{n} {field}" in line for n in (2, 3, 4)), line
    assert hint in line and "\n" not in line
    assert info.value.exit_code == 2


def test_a_bad_value_inside_a_dynamics_turn_gives_its_range() -> None:
    text = "name: x\nturns:\n  - say: hi\n  - say: stop\n    barge_in_ms: -5\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="f.yaml")
    assert "turns[1].barge_in_ms" in str(info.value) and "0 <= x <= 60000" in str(info.value)


def test_a_full_caller_loads(tmp_path: Path) -> None:
    text = BASE.format(
        caller="  voice: en-gb-scotland+f2\n  pitch_range: 80\n  word_gap_ms: 20\n"
        "  disfluency: {filler_rate: 0.1, pause_ms: [100, 400]}\n"
        "  room: {size_m: [4, 3, 2.5], rt60_s: 0.5, distance_m: 1}\n"
        "  noise: {kind: babble, snr_db: 5}\n"
        "  channel: {codec: opus, bitrate_kbps: 8, loss_rate: 0.02}"
    )
    caller = parse_scenario(text).caller
    assert caller.room is not None and caller.room.size_m == (4, 3, 2.5)
    assert caller.channel is not None and caller.channel.codec == "opus"


def test_the_cli_exits_2_with_one_line_for_a_bad_caller_value(tmp_path: Path) -> None:
    import subprocess
    import sys

    f = tmp_path / "bad.yaml"
    f.write_text(BASE.format(caller="  room: {rt60_s: -1}"))
    proc = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "validate", str(f)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert f"{f}:3 caller.room.rt60_s" in line and "0.05 < x <= 3.0" in line
