"""What every scenario model shares: strict frozen models, size limits, checks.

Unknown keys are errors so a typo never silently becomes a default; sizes are
bounded (docs/callers.md, "Limits").
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

#: Scripted turns in one scenario (a 30-minute call is well under 100).
MAX_TURNS = 200
#: Words in one `say` line (about 70 s of speech at 175 words a minute), and its characters.
MAX_SAY_WORDS = 200
MAX_SAY_CHARS = 2_000
#: Free text a regex is made of (`when:`, `done_when:`) and a fact's value.
MAX_PATTERN_CHARS = 200
MAX_FACT_CHARS = 200


def valid_pattern(pattern: str) -> str | None:
    """Why `pattern` cannot be a case-insensitive regex, or None when it can."""
    try:
        re.compile(pattern, re.IGNORECASE)
    except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}: OverflowError
        return str(exc)
    return None


class Model(BaseModel):
    """A scenario section: unknown keys are errors, values never change once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def is_file(path: str) -> bool:
    """True for an existing regular file; False for any name the OS cannot even stat."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False
