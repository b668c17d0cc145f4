"""A load worker keeps recordings only when asked, in the format asked for."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from simulator.cli import build_parser
from simulator.load.config import LoadConfig
from simulator.load.engine import LoadStore


def _pcm(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-8000, 8000, n).astype(np.int16)


def test_kept_recordings_are_written_as_flac_with_the_same_samples(tmp_path: Path) -> None:
    store = LoadStore(tmp_path, "w1", io.StringIO(), keep_audio=True, audio_format="flac")
    caller, agent = _pcm(16000, 1), _pcm(8000, 2)
    assert store.write_audio("load-000", caller, agent) == "audio/load-000"
    folder = tmp_path / "audio" / "load-000"
    assert sorted(p.name for p in folder.iterdir()) == ["agent.flac", "caller.flac", "mix.flac"]
    back, rate = sf.read(folder / "caller.flac", dtype="int16")
    assert rate == 16000 and np.array_equal(back, caller)
    back, _ = sf.read(folder / "agent.flac", dtype="int16")
    assert np.array_equal(back[:8000], agent) and not back[8000:].any()  # padded to the call


def test_without_keep_audio_nothing_is_written(tmp_path: Path) -> None:
    store = LoadStore(tmp_path, "w1", io.StringIO(), keep_audio=False, audio_format="flac")
    assert store.write_audio("load-000", _pcm(160, 1), _pcm(160, 2)) == ""
    assert not (tmp_path / "audio").exists()


def test_the_flag_reaches_the_load_configuration() -> None:
    argv = ["load", "s.yaml", "--profile", "soak", "--keep-audio", "--audio-format", "flac"]
    args = build_parser().parse_args(argv)
    fields = {k: v for k, v in vars(args).items() if k in LoadConfig.__dataclass_fields__}
    cfg = LoadConfig(scenario="s.yaml", out_dir="x", **fields)
    assert (cfg.keep_audio, cfg.audio_format) == (True, "flac")
