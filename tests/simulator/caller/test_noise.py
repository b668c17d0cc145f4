"""Noise is mixed at the set SNR, measured back over the active speech samples only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.audio import write_wav
from simulator.caller.noise import NoiseStage
from simulator.caller.truth import Truth
from simulator.caller.tts import Speech
from simulator.scenario import Noise


def _measured_snr(clean: np.ndarray, mixed: np.ndarray, level: float, truth: Truth) -> float:
    """SNR recomputed here from the output: speech power over 20 ms frames within
    40 dB of the loudest one, noise = output minus the (level-scaled) clean speech."""
    s = clean.astype(np.float64) * level
    n = mixed.astype(np.float64) - s
    frames = [(i, i + 320) for i in range(truth.speech_start, truth.speech_end - 319, 320)]
    power = np.array([np.mean(s[a:b] ** 2) for a, b in frames])
    active = [f for f, p in zip(frames, power, strict=True) if p > power.max() * 1e-4]
    ps = np.mean(np.concatenate([s[a:b] for a, b in active]) ** 2)
    pn = np.mean(np.concatenate([n[a:b] for a, b in active]) ** 2)
    return float(10 * np.log10(ps / pn))


@pytest.fixture(scope="module")
def noise_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user noise file: 0.7 s of a chirp over noise at 22.05 kHz would need resampling;
    keep it 16 kHz and shorter than the speech so it must loop."""
    rng = np.random.default_rng(5)
    t = np.arange(11_200) / 16_000
    x = 3000 * np.sin(2 * np.pi * (200 + 400 * t) * t) + 500 * rng.standard_normal(len(t))
    path = tmp_path_factory.mktemp("noise") / "fan.wav"
    write_wav(path, np.round(x).astype(np.int16))
    return path


@pytest.mark.parametrize("snr", [0, 5, 10, 20])
@pytest.mark.parametrize("kind", ["white", "pink", "brown", "babble", "hum", "file"])
def test_noise_lands_within_half_a_db_of_the_set_snr(
    kind: str, snr: float, speech: Speech, truth: Truth, noise_wav: Path
) -> None:
    cfg = Noise(kind=kind, snr_db=snr, file=str(noise_wav) if kind == "file" else None)
    out, after = NoiseStage(cfg).render(speech.pcm, truth, np.random.default_rng(11))
    level = after.notes["noise_level_gain"]
    assert _measured_snr(speech.pcm, out, level, truth) == pytest.approx(snr, abs=0.5)
    assert after.notes["snr_db"] == pytest.approx(snr, abs=0.5)
    assert (after.speech_start, after.speech_end) == (truth.speech_start, truth.speech_end)


def test_silence_does_not_dilute_the_speech_power(speech: Speech, truth: Truth) -> None:
    """Padding the utterance with 2 s of silence must not change the noise level."""
    padded = np.concatenate([np.zeros(32_000, np.int16), speech.pcm])
    moved = Truth(truth.speech_start + 32_000, truth.speech_end + 32_000, "", "")
    stage = NoiseStage(Noise(kind="white", snr_db=10))
    a, _ = stage.render(speech.pcm, truth, np.random.default_rng(1))
    b, _ = stage.render(padded, moved, np.random.default_rng(1))
    noise_a = np.std(a[: truth.speech_start].astype(float))
    noise_b = np.std(b[:32_000].astype(float))
    assert noise_b == pytest.approx(noise_a, rel=0.1)


@pytest.mark.parametrize(
    ("name", "subtype", "rate", "tolerance"),
    [
        ("fan.flac", "PCM_16", 16_000, 0.0),  # lossless: the very same samples
        ("fan24.wav", "PCM_24", 16_000, 0.0),
        ("fan.ogg", "VORBIS", 44_100, 0.1),  # lossy (~-24 dB on broadband noise), resampled
    ],
)
def test_a_noise_file_in_any_format_libsndfile_reads_gives_the_same_noise(
    noise_wav: Path, tmp_path: Path, name: str, subtype: str, rate: int, tolerance: float
) -> None:
    import soundfile
    from scipy.signal import resample_poly

    from simulator.caller.noise import read_noise_file

    reference = read_noise_file(str(noise_wav)) / 32768.0
    if rate != 16_000:
        reference = resample_poly(reference, rate, 16_000)
    path = tmp_path / name
    soundfile.write(path, np.column_stack([reference, reference]), rate, subtype=subtype)
    got = read_noise_file(str(path))
    expected = reference if rate == 16_000 else resample_poly(reference, 16_000, rate)
    expected = expected * 32768.0
    assert len(got) == len(expected)
    residual = np.sqrt(np.mean((got - expected) ** 2)) / np.std(expected)
    assert residual <= tolerance, residual


def test_a_file_libsndfile_cannot_read_is_one_line_naming_the_field(tmp_path: Path) -> None:
    from simulator.caller.noise import read_noise_file
    from simulator.errors import ScenarioError

    bad = tmp_path / "notes.txt"
    bad.write_text("not audio")
    with pytest.raises(ScenarioError) as info:
        read_noise_file(str(bad))
    line = info.value.one_line()
    assert "caller.noise.file" in line and "cannot read noise file" in line and "FLAC" in line
