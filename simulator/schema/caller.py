"""The `caller:` section (voice, disfluency, room, noise, line) and `turns:`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from simulator.schema.base import MAX_SAY_CHARS, MAX_SAY_WORDS, Model, is_file


class Disfluency(Model):
    """Seeded disfluencies: per-word rates of fillers, repeats, false starts and pauses."""

    filler_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    fillers: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = [
        "um",
        "uh",
        "like",
    ]
    repeat_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    false_start_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    pause_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    #: A pause length in ms, or [min, max] to sample one uniformly per pause.
    pause_ms: (
        Annotated[int, Field(ge=0, le=10_000)]
        | Annotated[list[Annotated[int, Field(ge=0, le=10_000)]], Field(min_length=2, max_length=2)]
    ) = 600


class Room(Model):
    """A shoebox room (pyroomacoustics); the RT60 is reached by inverse Sabine."""

    size_m: tuple[
        Annotated[float, Field(gt=1, le=50)],
        Annotated[float, Field(gt=1, le=50)],
        Annotated[float, Field(gt=1, le=50)],
    ] = (5.0, 4.0, 3.0)
    rt60_s: Annotated[float, Field(gt=0.05, le=3.0)] = 0.4
    distance_m: Annotated[float, Field(gt=0.05, le=10)] = 1.0


NoiseKind = Literal["white", "pink", "brown", "babble", "hum", "file"]


class Noise(Model):
    """Background noise mixed at `snr_db`, measured over the active speech samples."""

    kind: NoiseKind = "white"
    snr_db: Annotated[float, Field(ge=-10, le=60)] = 20.0
    file: Annotated[str, Field(max_length=1_000)] | None = None
    hum_hz: Literal[50, 60] = 50
    babble_talkers: Annotated[int, Field(ge=2, le=12)] = 6
    #: Keep the noise on between turns (real lines do); false = only under speech.
    continuous: bool = True

    @model_validator(mode="after")
    def _file_for_file_kind(self) -> Noise:
        if self.kind == "file" and not self.file:
            raise ValueError("kind 'file' needs file: PATH (WAV, FLAC, OGG...)")
        if self.file is not None and self.kind != "file":
            raise ValueError("file: is only used with kind: file")
        if self.file is not None and not is_file(self.file):
            raise ValueError(
                f"noise file not found: {self.file} (WAV, FLAC, OGG...; path from cwd)"
            )
        return self


class Channel(Model):
    """The telephone line: narrowband, a codec, packet loss with concealment, level."""

    narrowband: bool = True
    codec: Literal["none", "mulaw", "alaw", "opus"] = "mulaw"
    bitrate_kbps: Annotated[float, Field(ge=6, le=64)] = 12.0
    loss_rate: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    gain_db: Annotated[float, Field(ge=-40, le=40)] = 0.0
    clip_dbfs: Annotated[float, Field(ge=-40, le=0)] = 0.0


class Reconnect(Model):
    """After its link drops (not a hang-up), the caller reconnects and goes on with the
    same call id, as a telephony media stream does (docs/fleet.md). Off by default."""

    attempts: Annotated[int, Field(ge=0, le=20)] = 3
    backoff_ms: Annotated[int, Field(ge=0, le=10_000)] = 200


class Caller(Model):
    """The simulated caller's voice (and how its line behaves)."""

    voice: Annotated[str, Field(min_length=1, max_length=64)] = "en-us"
    rate_wpm: Annotated[int, Field(ge=80, le=450)] = 175
    pitch: Annotated[int, Field(ge=0, le=99)] = 50
    engine: Literal["espeak", "piper"] = "espeak"
    pitch_range: Annotated[int, Field(ge=0, le=99)] = 50
    word_gap_ms: Annotated[int, Field(ge=0, le=1000)] = 0
    disfluency: Disfluency | None = None
    room: Room | None = None
    noise: Noise | None = None
    channel: Channel | None = None
    #: WebSocket callers only; not part of the rendered audio.
    reconnect: Reconnect | None = None

    @model_validator(mode="after")
    def _known_voice(self) -> Caller:
        from simulator.caller.voices import check_voice

        check_voice(self.engine, self.voice)
        return self


class Turn(Model):
    """One step of the caller's plan.

    `say` speaks a sentence, then (unless `wait: false`) waits for the agent's
    reply; `audio` plays a recorded line instead of synthesizing one (its
    `say`, if given, is what it says: the WER reference); `wait: true` alone
    waits for the agent to speak (e.g. a greeting); `silence_ms` keeps the
    line silent for that long.
    """

    say: Annotated[str, Field(min_length=1, max_length=MAX_SAY_CHARS)] | None = None
    #: A recorded caller line (any format libsndfile reads), path relative to the
    #: scenario file; resolved to an absolute path when the scenario is loaded.
    audio: Annotated[str, Field(min_length=1, max_length=1_000)] | None = None
    wait: bool | None = None
    silence_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None
    reply_timeout_ms: Annotated[int, Field(ge=100, le=120_000)] = 10_000
    #: Start `say` this many ms into the agent's reply to the previous turn.
    barge_in_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    #: Say this (e.g. "uh-huh") `at_ms` into the agent's reply, then keep listening.
    backchannel: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    at_ms: Annotated[int, Field(ge=0, le=60_000)] = 1000
    #: Hang up this many ms into the agent's reply to the previous turn.
    hangup_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    #: Pause mid-sentence for `pause_ms` after word number `pause_after_word`.
    pause_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    pause_after_word: Annotated[int, Field(ge=1, le=MAX_SAY_WORDS)] | None = None

    @field_validator("say")
    @classmethod
    def _say_words(cls, say: str | None) -> str | None:
        words = len(say.split()) if say is not None else 0
        if words > MAX_SAY_WORDS:
            raise ValueError(f"a say line has at most {MAX_SAY_WORDS} words (got {words:,})")
        return say

    @field_validator("audio")
    @classmethod
    def _audio_file(cls, audio: str | None, info: ValidationInfo) -> str | None:
        if audio is None:
            return None
        base = (info.context or {}).get("scenario_dir") or "."
        path = Path(base) / audio
        if not is_file(str(path)):
            raise ValueError(
                f"audio file not found: {path} (WAV, FLAC, OGG...; path from the scenario file)"
            )
        return str(path.resolve())

    @model_validator(mode="after")
    def _one_action(self) -> Turn:
        speaks = self.say if self.say is not None else self.audio
        actions = [
            a for a in (speaks, self.silence_ms, self.backchannel, self.hangup_ms) if a is not None
        ]
        if speaks is not None and self.silence_ms is not None:
            raise ValueError("a turn has either say or silence_ms, not both")
        if len(actions) > 1:
            raise ValueError("a turn has one of say, silence_ms, backchannel, hangup_ms")
        if not actions and self.wait is not True:
            raise ValueError("a turn needs say, silence_ms, backchannel, hangup_ms or wait: true")
        if self.barge_in_ms is not None and speaks is None:
            raise ValueError("barge_in_ms needs say: the words to barge in with")
        if (self.pause_ms is None) != (self.pause_after_word is None) or (
            self.pause_ms is not None and (self.say is None or self.audio is not None)
        ):
            raise ValueError("pause_ms and pause_after_word go together, on a say turn")
        return self

    @property
    def waits_for_reply(self) -> bool:
        """True when the caller waits for the agent to answer after this turn."""
        if self.wait is not None:
            return self.wait
        return self.say is not None or self.audio is not None
