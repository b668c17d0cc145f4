"""Caller sentences in ordinary words, held out of the domain language model.

`CALLER_PHRASES` (reference_agent.domain) trains the pipeline's pocketsphinx
language model, so WER measured on those phrases says how well the agent
hears callers who read from its script. Real callers do not: these sentences
ask for the same things (appointments, orders, refunds, a person) in words
the phrase list does not contain. `benchmarks/stt_heldout_wer.py` measures
each recognizer on them (BENCHMARKS.md, "Bundled agent: recognizer for
callers' own words"); none of them is in `CALLER_PHRASES` (tested).
"""

from __future__ import annotations

HELDOUT_CALLER_SENTENCES: list[str] = [
    "hi i need to see someone on wednesday",
    "ten in the morning works",
    "could i get a refund on order five five one two",
    "do you have anything free on thursday afternoon",
    "half past two would be great",
    "i'd like to move my appointment to next monday",
    "the order number is four four seven one",
    "is there a slot tomorrow around eleven",
    "actually friday would suit me better",
    "i was charged twice and i want my money back",
    "can you tell me when my package will arrive",
    "could we do quarter past three instead",
    "my order still hasn't arrived",
    "can i speak with a real person please",
    "no that's everything thanks for your help",
]
