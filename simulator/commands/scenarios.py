"""`voxsim validate` and `voxsim voices`: what a scenario file may say, checked."""

from __future__ import annotations

import argparse

from simulator.errors import EXIT_OK


def validate(args: argparse.Namespace) -> int:
    """`voxsim validate FILES`: one line per valid file; the first bad one raises."""
    from simulator.matrix import count_calls
    from simulator.scenario import load_scenario

    for f in args.files:
        sc = load_scenario(f)  # every matrix combination is validated here
        print(f"{f}: ok ({sc.name}, {len(sc.turns)} turns, {count_calls(sc)} calls)")
    return EXIT_OK


def voices(args: argparse.Namespace) -> int:
    """`voxsim voices`: the caller voices of every installed engine."""
    from simulator.caller.voices import list_voices, speaker_variants

    for engine, voice, about in list_voices():
        print(f"{engine:<7} {voice:<16} {about}")
    print("speaker variants (espeak, e.g. en-us+f3): " + " ".join(speaker_variants()))
    return EXIT_OK
