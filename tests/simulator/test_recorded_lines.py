"""Audio files users supply and recordings voxsim writes, in the formats soundfile reads.

A scenario turn may play a recorded caller line (`audio:`, FLAC, OGG, 24-bit
WAV...) instead of synthesized speech; `voxsim run --audio-format flac` writes
the call's recordings as FLAC with the same samples as the WAV files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy.signal import resample_poly

from simulator.caller.render import render_all
from simulator.caller.tts import synthesize
from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.metrics.wer import score_corpus
from simulator.scenario import load_scenario, parse_scenario
from simulator.store import RunStore

LINES = {
    "order.flac": ("Where is my order one two three four", 48_000, "PCM_16"),
    "refund.ogg": ("Can I get a refund for my order", 22_050, "VORBIS"),
    "wednesday.wav": ("Make it Wednesday instead", 44_100, "PCM_24"),
}


def write_line(path: Path, text: str, rate: int, subtype: str) -> np.ndarray:
    """`text` spoken by eSpeak, written at `rate` Hz as `subtype`; returns the 16 kHz original."""
    pcm = synthesize(text, seed=1).pcm
    pad = np.zeros(3200, np.int16)
    pcm = np.concatenate([pad, pcm, pad])
    g = np.gcd(rate, 16_000)
    resampled = resample_poly(pcm / 32768.0, rate // g, 16_000 // g)
    soundfile.write(str(path), np.clip(resampled, -1, 1), rate, subtype=subtype)
    return pcm


def scenario_text(names: list[str]) -> str:
    turns = "".join(f"  - {{audio: {n}, say: {LINES[n][0]!r}}}\n" for n in names)
    return f"name: recorded\nseed: 2\nturns:\n  - wait: true\n{turns}  - hangup_ms: 1500\n"


def test_a_recorded_line_is_read_resampled_and_bounded_like_speech(tmp_path: Path) -> None:
    original = write_line(tmp_path / "order.flac", *LINES["order.flac"])
    (tmp_path / "s.yaml").write_text(scenario_text(["order.flac"]), encoding="utf-8")
    scenario = load_scenario(tmp_path / "s.yaml")
    assert scenario.turns[1].audio == str((tmp_path / "order.flac").resolve())
    planned, _ = render_all(list(scenario.turns), scenario.caller, seed=2)
    line = planned[1]
    assert line.kind == "say" and line.text == LINES["order.flac"][0] and line.waits_for_reply
    assert len(line.pcm) == pytest.approx(len(original), abs=2)
    n = min(len(line.pcm), len(original))
    err = line.pcm[:n].astype(float) - original[:n]
    assert np.sqrt(np.mean(err**2)) < 0.01 * np.sqrt(np.mean(original.astype(float) ** 2))
    assert 3000 < line.speech_start < 3400 and len(line.pcm) - 3400 < line.speech_end


def test_an_audio_turn_without_say_has_no_wer_reference(tmp_path: Path) -> None:
    write_line(tmp_path / "order.flac", *LINES["order.flac"])
    yaml = "name: r\nturns:\n  - audio: order.flac\n"
    scenario = parse_scenario(yaml, base=tmp_path)
    planned, _ = render_all(list(scenario.turns), scenario.caller, seed=0)
    assert planned[0].kind == "say" and planned[0].text is None and planned[0].waits_for_reply


def test_a_missing_recorded_line_names_the_field_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: r\nturns:\n  - wait: true\n  - audio: nope.flac\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "turns[1].audio" in message or "turns.1.audio" in message, message
    assert "nope.flac" in message and ":4" in message


def test_a_flac_recording_has_the_samples_of_the_wav_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    caller = rng.integers(-32768, 32767, 16_000, dtype=np.int16)
    agent = rng.integers(-32768, 32767, 12_000, dtype=np.int16)
    wav = RunStore(tmp_path / "wav").write_audio("c-000", caller, agent)
    flac = RunStore(tmp_path / "flac", "flac").write_audio("c-000", caller, agent)
    for track, channels in (("caller", 1), ("agent", 1), ("mix", 2)):
        want, rate = soundfile.read(tmp_path / "wav" / wav / f"{track}.wav", dtype="int16")
        got, flac_rate = soundfile.read(tmp_path / "flac" / flac / f"{track}.flac", dtype="int16")
        assert rate == flac_rate == 16_000 and got.ndim == channels
        assert np.array_equal(got, want)
    assert not list((tmp_path / "flac").rglob("*.wav"))


def test_recorded_lines_in_flac_ogg_and_24_bit_wav_reach_the_agent(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    for name, (text, rate, subtype) in LINES.items():
        write_line(tmp_path / name, text, rate, subtype)
    (tmp_path / "s.yaml").write_text(scenario_text(list(LINES)), encoding="utf-8")
    out = tmp_path / "run"
    argv = ["run", str(tmp_path / "s.yaml"), "--agent", pipeline_agent_url, "--out", str(out)]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--audio-format", "flac"])
    assert exited.value.code == 0
    turns = [json.loads(line) for line in (out / "turns.jsonl").read_text().splitlines()]
    said = [t for t in turns if t["kind"] == "say"]
    assert [t["caller_text"] for t in said] == [text for text, _, _ in LINES.values()]
    assert all(t["agent_heard_text"] and t["latency_ms"] is not None for t in said), said
    wer = score_corpus([t["caller_text"] for t in said], [t["agent_heard_text"] for t in said])
    assert wer.wer <= 0.5, [t["agent_heard_text"] for t in said]
    (call,) = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    folder = out / call["audio_dir"]
    assert sorted(p.name for p in folder.iterdir()) == ["agent.flac", "caller.flac", "mix.flac"]
    caller, rate = soundfile.read(folder / "caller.flac", dtype="int16")
    assert rate == 16_000 and np.count_nonzero(caller) > 0
    assert f"{call['audio_dir']}/caller.flac" in (out / "report.html").read_text(encoding="utf-8")
