"""Word error rate with jiwer and one documented normalisation.

Normalisation (docs/metrics.md): lower case, punctuation removed (apostrophes
inside words kept), digits spelled as words, whitespace collapsed. The same
normalisation is applied to reference and hypothesis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jiwer

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()  # noqa: E501
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    # Longer numbers (order numbers, years) are read digit by digit, as callers say them.
    return " ".join(_ONES[int(d)] for d in str(n))


def normalize(text: str) -> str:
    """Apply voxsim's WER normalisation to one string."""
    s = text.lower()
    s = re.sub(r"(\d+)", lambda m: f" {_number_words(int(m.group(1)))} ", s)
    s = re.sub(r"[^\w\s']", " ", s)
    s = re.sub(r"(?<!\w)'|'(?!\w)", " ", s)
    return " ".join(s.split())


@dataclass(frozen=True)
class WerResult:
    """WER and its error counts; `ref_words` is the normalised reference length."""

    wer: float
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int


def score(reference: str, hypothesis: str) -> WerResult:
    """WER of one hypothesis against one reference, after normalisation."""
    return score_corpus([reference], [hypothesis])


def score_corpus(references: list[str], hypotheses: list[str]) -> WerResult:
    """Corpus-level WER: total errors over total reference words (not a mean of WERs)."""
    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    ref_words = sum(len(r.split()) for r in refs)
    pairs = [(r, h) for r, h in zip(refs, hyps, strict=True) if r]
    inserted_only = sum(len(h.split()) for r, h in zip(refs, hyps, strict=True) if not r)
    if not pairs:
        return WerResult(float(inserted_only > 0), 0, 0, 0, inserted_only)
    out = jiwer.process_words([r for r, _ in pairs], [h if h else "" for _, h in pairs])
    ins = out.insertions + inserted_only
    errors = out.substitutions + out.deletions + ins
    return WerResult(errors / max(1, ref_words), ref_words, out.substitutions, out.deletions, ins)


#: Fillers removed from a transcript before scoring a disfluent caller (DESIGN.md).
DEFAULT_FILLERS = ("um", "uh", "er", "ah", "erm", "hmm", "like")


def strip_fillers(hypothesis: str, reference: str, fillers: tuple[str, ...] = ()) -> str:
    """Drop filler words from `hypothesis`, keeping as many of each as `reference` has
    (so a meant "like" is still scored)."""
    fill = {normalize(f) for f in (*DEFAULT_FILLERS, *fillers)}
    budget: dict[str, int] = {}
    for word in normalize(reference).split():
        if word in fill:
            budget[word] = budget.get(word, 0) + 1
    kept: list[str] = []
    for word in normalize(hypothesis).split():
        if word in fill and budget.get(word, 0) <= 0:
            continue
        if word in fill:
            budget[word] -= 1
        kept.append(word)
    return " ".join(kept)


def score_intended(reference: str, hypothesis: str, fillers: tuple[str, ...] = ()) -> WerResult:
    """WER of a disfluent caller: against the intended text, fillers removed from the
    transcript (repeats and false starts still count: the agent heard them)."""
    return score(reference, strip_fillers(hypothesis, reference, fillers))
