"""Word error rate with jiwer and one documented normalisation.

Normalisation (docs/metrics.md, "Word error rate"), applied to reference and
hypothesis alike, in this order:

1. lower case; "a.m."/"p.m." become "am"/"pm";
2. clock times are spoken one way, 12-hour with am/pm: "15:00", "3 pm",
   "3:00 p.m." and "three p.m." all become "three pm"; "15:30" becomes
   "three thirty pm", "9:05" "nine oh five am"; a bare "H:MM" is 24-hour;
3. ordinals 1st..31st become words ("3rd" -> "third");
4. other digits are spelled: 0-99 as words, longer numbers digit by digit
   (as callers read order numbers);
5. punctuation removed (apostrophes inside words kept, hyphens split words;
   "uh-huh" stays one word, "uhhuh");
6. fillers dropped (uh, um, er, erm, ah, hmm, mm, uhm, umm);
7. "p m" / "a m" right after a number word are joined ("three p m" ->
   "three pm", how STTs spell it letter by letter); whitespace collapsed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jiwer

from simulator.metrics.stats import as_number

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()  # noqa: E501
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split()  # noqa: E501
_ORDINAL_TENS = {20: "twentieth", 30: "thirtieth"}

#: Words that carry no content and that STTs keep or drop at will.
FILLERS = frozenset({"uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm", "mm"})
_NUMBER_WORDS = frozenset(_ONES[1:] + _TENS[2:] + ["oh"])


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    # Longer numbers (order numbers, years) are read digit by digit, as callers say them.
    return " ".join(_ONES[int(d)] for d in str(n))


def _ordinal_words(n: int) -> str:
    if n <= 20:
        return _ORDINALS[n]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return _ORDINAL_TENS.get(n, _number_words(n))
    return f"{_TENS[tens]} {_ORDINALS[ones]}"


def _clock(hour: int, minute: int, suffix: str | None) -> str:
    """Spoken 12-hour time: (15, 0, None) -> "three pm"; (9, 5, "am") -> "nine oh five am"."""
    if suffix is None:  # a bare H:MM is a 24-hour time
        suffix = "am" if hour < 12 else "pm"
        hour = hour % 12 or 12
    minutes = (
        ""
        if minute == 0
        else (f" oh {_ONES[minute]}" if minute < 10 else f" {_number_words(minute)}")
    )
    return f"{_number_words(hour)}{minutes} {suffix}"


_AMPM = re.compile(r"\b([ap])\.\s?m\b\.?")
_TIME_HM = re.compile(r"\b(\d{1,2}):(\d{2})(?:\s*([ap]m)\b)?")
_TIME_H = re.compile(r"\b(\d{1,2})\s*([ap]m)\b")
_ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b")


def _times(s: str) -> str:
    def hm(m: re.Match[str]) -> str:
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 23 or minute > 59:
            return m.group(0)
        suffix = m.group(3)
        if suffix is not None and not 1 <= hour <= 12:
            suffix = None  # "15:00 pm": the 24-hour reading wins
        return f" {_clock(hour, minute, suffix)} "

    def h(m: re.Match[str]) -> str:
        hour = int(m.group(1))
        return f" {_clock(hour, 0, m.group(2))} " if 1 <= hour <= 12 else m.group(0)

    return _TIME_H.sub(h, _TIME_HM.sub(hm, s))


def _join_ampm(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        if w == "m" and out and out[-1] in ("a", "p") and len(out) >= 2:
            if out[-2] in _NUMBER_WORDS:
                out[-1] = out[-1] + "m"
                continue
        out.append(w)
    return out


def normalize(text: str) -> str:
    """Apply voxsim's WER normalisation to one string (see the module docstring)."""
    s = _AMPM.sub(lambda m: f"{m.group(1)}m", text.lower())
    s = _times(s)
    s = _ORDINAL.sub(lambda m: f" {_ordinal_words(int(m.group(1)))} ", s)
    s = re.sub(r"(\d+)", lambda m: f" {_number_words(int(m.group(1)))} ", s)
    s = re.sub(r"\buh-huh\b", "uhhuh", s)
    s = re.sub(r"[^\w\s']", " ", s)
    s = re.sub(r"(?<!\w)'|'(?!\w)", " ", s)
    words = [w for w in s.split() if w not in FILLERS]
    return " ".join(_join_ampm(words))


@dataclass(frozen=True)
class WerResult:
    """WER and its error counts; `ref_words` is the normalised reference length."""

    wer: float
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        """Substitutions + deletions + insertions."""
        return self.substitutions + self.deletions + self.insertions


def score(reference: str, hypothesis: str) -> WerResult:
    """WER of one hypothesis against one reference, after normalisation."""
    return score_corpus([reference], [hypothesis])


def score_corpus(references: Sequence[str], hypotheses: Sequence[str]) -> WerResult:
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


def aggregate(
    rows: Sequence[Mapping[str, object]], prefix: str = "wer"
) -> dict[str, float | int | None]:
    """Corpus WER over turn rows carrying `{prefix}_ref_words/_subs/_dels/_ins`: summed
    counts, their ratio, and n (turns scored). Rows without reference words are skipped
    (their WER is not a ratio of anything); missing or non-numeric counts read as 0.

    The one computation of corpus WER: the SLO verdict, the report's WER table, its
    accent x noise cells, the matrix table and the baseline comparison all call it.
    """

    def count(row: Mapping[str, object], field: str) -> int:
        return int(as_number(row.get(f"{prefix}_{field}")) or 0)

    scored = [r for r in rows if count(r, "ref_words") > 0]
    words = sum(count(r, "ref_words") for r in scored)
    subs = sum(count(r, "subs") for r in scored)
    dels = sum(count(r, "dels") for r in scored)
    ins = sum(count(r, "ins") for r in scored)
    return {
        "wer": (subs + dels + ins) / words if words else None,
        "n": len(scored),
        "ref_words": words,
        "substitutions": subs,
        "deletions": dels,
        "insertions": ins,
    }
