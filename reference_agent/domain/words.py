"""The bundled domain's ears: the caller's words normalised, and the slots found in them.

Keyword and slot extraction over one caller turn: a day ("tuesday", "the
fifteenth"), a time ("ten thirty am", "half past three", "noon") and an order
number ("five five one two", with "oh" and STT homophones as digits). Numbers
are spelled as a caller says them, so "10:30" and "ten thirty" read the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
RELATIVE_DAYS = ["today", "tomorrow"]
HOURS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
MINUTES = ["fifteen", "thirty", "forty five"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

_DIGIT_WORD = {d: i for i, d in enumerate(DIGITS)}
_HOMOPHONES = {"oh": "zero", "to": "two", "too": "two", "for": "four", "ate": "eight"}
_HOUR = {h: i + 1 for i, h in enumerate(HOURS)}


_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
#: Minutes after an hour word, longest first: "ten forty five", "ten oh five".
_MINUTE_WORDS = (
    [f"{tens} {one}" for tens in ("twenty", "thirty", "forty", "fifty") for one in DIGITS[1:]]
    + [f"oh {d}" for d in DIGITS[1:]]
    + _TEENS[1:]
    + ["twenty", "thirty", "forty", "fifty"]
)
#: "ten in the morning", "three this afternoon": spoken day parts that settle am / pm.
_DAY_PARTS = {"morning": "am", "afternoon": "pm", "evening": "pm", "night": "pm", "tonight": "pm"}
#: Words before a bare hour that make it a time ("at ten", "around three").
_TIME_PREFIX = {"at", "around", "about", "for", "by"}
#: "quarter past ten", "twenty to four": minutes said before the hour.
_MINUTES_BEFORE = {"quarter": 15, "half": 30, "five": 5, "ten": 10, "twenty": 20}


def _number(n: int) -> str:
    """0-99 in words: 10 -> "ten", 45 -> "forty five"."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return _TEENS[n - 10]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f" {DIGITS[ones]}" if ones else "")


def _ordinal(n: int) -> str:
    """1-39 as an ordinal: 15 -> "fifteenth", 21 -> "twenty first"."""
    if n <= 20:
        return _ORDINALS[n - 1]
    if n == 30:
        return "thirtieth"
    tens, ones = divmod(n, 10)
    return f"{_TENS[tens]} {_ORDINALS[ones - 1]}"


def _spell_clock(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    said = _number(hour)
    if minute:
        said += f" oh {DIGITS[minute]}" if minute < 10 else f" {_number(minute)}"
    return f" {said} "


def _spell_number(m: re.Match[str]) -> str:
    """Digits as a caller says them: 1-2 digits as a number, longer runs digit by digit."""
    run = m.group()
    if len(run) <= 2 and not (len(run) == 2 and run[0] == "0"):
        return f" {_number(int(run))} "
    return " " + " ".join(DIGITS[int(c)] for c in run) + " "


def normalize(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, numbers spelled out.

    Clock times are spoken ("10:30" -> "ten thirty", "10am" -> "ten am"),
    ordinals too ("15th" -> "fifteenth"), one- and two-digit numbers are words
    ("10" -> "ten") and longer runs are read digit by digit, as callers read
    order numbers ("5512" -> "five five one two"). "a m" / "p m" (how a
    recogniser may spell them) become "am" / "pm".
    """
    text = text.lower().replace("a.m.", "am").replace("p.m.", "pm").replace("'", "")
    text = re.sub(r"\b(\d{1,2}):(\d{2})(?!\d)", _spell_clock, text)
    text = re.sub(
        r"\b(\d{1,2})(?:st|nd|rd|th)\b",
        lambda m: f" {_ordinal(int(m.group(1)))} " if 1 <= int(m.group(1)) <= 31 else m.group(),
        text,
    )
    text = re.sub(r"\d+", _spell_number, text)
    words = re.findall(r"[a-z]+", text)
    out: list[str] = []
    for w in words:
        if w == "m" and out and out[-1] in ("a", "p"):
            out[-1] += "m"
            continue
        out.append(w)
    return out


def order_number(words: Sequence[str]) -> str | None:
    """The first run of three or more spoken digits.

    Between two digits, "oh" is zero and STT homophones ("to", "for") are digits.
    """
    run: list[str] = []
    best: list[str] = []
    padded = [*words, ""]
    for i, w in enumerate(padded):
        between = bool(run) and i + 1 < len(padded) and padded[i + 1] in _DIGIT_WORD
        if w in _DIGIT_WORD or (between and w in _HOMOPHONES):
            run.append(_HOMOPHONES.get(w, w))
            continue
        if len(run) >= 3 and not best:
            best = run
        run = []
    return " ".join(best) if best else None


def _day_of_month(words: Sequence[str], i: int) -> tuple[str, int] | None:
    """An ordinal at `words[i]` ("fifteenth", "twenty first") and how many words it took."""
    w = words[i]
    if w in _ORDINALS:
        return w, 1
    if w == "thirtieth":
        return w, 1
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if w in ("twenty", "thirty") and nxt in _ORDINALS[:9]:
        return f"{w} {nxt}", 2
    return None


def spoken_day(words: Sequence[str]) -> str | None:
    """The last day named: a weekday, today / tomorrow, or "the fifteenth".

    A day of the month counts after "on the" / "for the" / a weekday + "the",
    or opening the turn ("the fifteenth please"), so "the first thing" does not.
    """
    found: str | None = None
    for i, w in enumerate(words):
        stem = w[:-1] if w.endswith("s") and w[:-1] in DAYS else w
        if stem in DAYS or stem in RELATIVE_DAYS:
            found = stem
            continue
        if w != "the" or i + 1 >= len(words):
            continue
        ordinal = _day_of_month(words, i + 1)
        before = words[i - 1] if i else ""
        if ordinal is None or not (i == 0 or before in ("on", "for") or before in DAYS):
            continue
        date = f"the {ordinal[0]}"
        found = f"{before} {date}" if before in DAYS else date
    return found


def _minutes_after(words: Sequence[str], j: int) -> tuple[str | None, int]:
    """Minutes spoken at `words[j:]` after an hour ("thirty", "forty five"): (words, count)."""
    for phrase in _MINUTE_WORDS:
        parts = phrase.split()
        if list(words[j : j + len(parts)]) == parts:
            return phrase, len(parts)
    return None, 0


def _day_part(words: Sequence[str], j: int) -> tuple[str | None, int]:
    """am / pm at `words[j:]`: "am", "pm", "in the morning", "this afternoon", "at night"."""
    w = words[j] if j < len(words) else ""
    if w in ("am", "pm"):
        return w, 1
    if w in ("in", "this", "at"):
        k = j + 1 + (words[j + 1 : j + 2] == ["the"])
        part = words[k] if k < len(words) else ""
        if part in _DAY_PARTS and (part == "night") == (w == "at"):
            return _DAY_PARTS[part], k + 1 - j
    if w == "tonight":
        return "pm", 1
    return None, 0


def _minutes_before(words: Sequence[str], i: int) -> int | None:
    """Minutes past (+) or to (-) the hour at `words[i]`: "half past", "quarter to", "half"."""
    if i >= 2 and words[i - 1] in ("past", "after", "to") and words[i - 2] in _MINUTES_BEFORE:
        minutes = _MINUTES_BEFORE[words[i - 2]]
        if i >= 3 and words[i - 3] == "twenty" and words[i - 2] == "five":
            minutes = 25
        if words[i - 1] == "to":
            return None if words[i - 2] == "half" else -minutes
        return minutes
    if i >= 1 and words[i - 1] == "half":  # "half ten" (British): half past ten
        return 30
    return None


def spoken_time(words: Sequence[str], bare_hour: bool = False) -> str | None:
    """A spoken time, as the domain says it: "ten am", "ten thirty", "three fifteen pm", "noon".

    An hour word counts as a time when minutes, "o'clock", am / pm or a day
    part ("in the morning") go with it, or "at" / "around" / ... come before
    it, or (`bare_hour`, when the agent just asked for a time) on its own.
    """
    found: str | None = None
    for i, w in enumerate(words):
        if w in ("noon", "midday"):
            found = "noon"
            continue
        if w not in _HOUR:
            continue
        hour = _HOUR[w]
        j = i + 1
        before = _minutes_before(words, i)
        minutes: str | None = None
        if before is not None:
            if before < 0:
                hour = (hour - 2) % 12 + 1
                before += 60
            minutes = f"oh {DIGITS[before]}" if before < 10 else _number(before)
        else:
            minutes, taken = _minutes_after(words, j)
            j += taken
        oclock = j < len(words) and words[j] == "oclock"
        j += oclock
        suffix, taken = _day_part(words, j)
        nxt = words[j + taken] if j + taken < len(words) else ""
        prev = words[i - 1] if i > 0 else ""
        if nxt in _DIGIT_WORD or (prev in _DIGIT_WORD and before is None):
            continue  # inside a spoken number ("five oh five two"), not a time
        if minutes or oclock or suffix or prev in _TIME_PREFIX or bare_hour:
            parts = [
                HOURS[hour - 1],
                *([minutes] if minutes else []),
                *([suffix] if suffix else []),
            ]
            found = " ".join(parts)
    if found and found != "noon" and found.split()[-1] not in ("am", "pm"):
        # "nine fifteen tomorrow morning": the day part need not follow the hour
        # ("good morning" is a greeting, not a day part).
        parts_of_day = [
            _DAY_PARTS[w]
            for k, w in enumerate(words)
            if w in _DAY_PARTS and w != "night" and (k == 0 or words[k - 1] != "good")
        ]
        if parts_of_day:
            found += " " + parts_of_day[-1]
    return found


def has_phrase(words: Iterable[str], *keys: str) -> bool:
    text = " " + " ".join(words) + " "
    return any(f" {k} " in text for k in keys)


def digits_of(order: str) -> str:
    """ "one two three four" -> "1234" (tools store order numbers as digits)."""
    return "".join(str(_DIGIT_WORD[d]) for d in order.split())
