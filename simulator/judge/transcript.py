"""A finished call as the judge reads it: numbered lines on both sides, in time order.

What the caller said (`caller`), what the agent's recognizer made of it when
that differs (`agent heard`), each tool call with its arguments and result
(`tool`), what the agent said (`agent`: its own transcript events, or
voxsim's recognizer on the audio when the agent sends none: `spoken_text`,
or Whisper's `agent_audio_text`), and what the
caller heard when that differs from what the agent said (`caller heard`:
voxsim's transcription of the agent audio that reached the caller). Every
line is a possible quote: the judge's evidence must be a piece of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator.metrics.task import tool_calls as agent_tool_calls
from simulator.metrics.task import tool_failed
from simulator.metrics.wer import normalize
from simulator.rows import TurnRow

#: A line is cut to this many characters (a judge reads every line of every call).
MAX_LINE_CHARS = 300


@dataclass(frozen=True)
class Line:
    """One line of the transcript."""

    n: int
    who: str  # caller | agent heard | tool | agent | caller heard
    text: str
    at_s: float | None = None
    turn: int | None = None

    @property
    def label(self) -> str:
        """The line as the judge sees it and quotes it: `who: text`."""
        return f"{self.who}: {self.text}"


def _cut(text: str) -> str:
    """One line, double quotes as single ones (every line is also an enum value of the
    answer's schema, and llama.cpp's schema-to-grammar step fails on escaped quotes)."""
    text = " ".join(str(text).replace('"', "'").replace("\\", "/").split())
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


def tool_line(call: dict[str, Any]) -> str:
    """`name(day=tuesday, time=three pm) -> ok` / `-> error: ...` / `-> {result}`."""
    args = call.get("arguments") or {}
    shown = ", ".join(f"{k}={v}" for k, v in args.items()) if isinstance(args, dict) else args
    result = call.get("result")
    failed = tool_failed(call)
    if failed is not None:
        outcome = f"error: {failed}"
    elif isinstance(result, dict):
        rest = ", ".join(f"{k}={v}" for k, v in sorted(result.items()) if k != "ok")
        outcome = "ok" + (f" ({rest})" if rest else "")
    else:
        outcome = "no result" if result is None else str(result)
    return f"{call.get('name')}({shown}) -> {outcome}"


def _differs(a: str | None, b: str | None) -> bool:
    return bool(a and b and normalize(a) != normalize(b))


def build(turns: Sequence[TurnRow], tool_calls: Sequence[dict[str, Any]]) -> list[Line]:
    """The call's lines from its turn rows and tool calls (`_at_s` on the call timeline)."""
    items: list[tuple[float, int, str, str, int | None]] = []
    order = 0
    last = 0.0
    for row in sorted(turns, key=lambda r: int(r.get("turn", 0))):
        turn = int(row.get("turn", 0))
        said = row.get("caller_text")
        start = row.get("speech_start_s")
        if said and row.get("kind") in ("say", "backchannel", "hangup"):
            last = float(start) if start is not None else last
            items.append((last, order, "caller", said, turn))
            order += 1
            if _differs(said, row.get("agent_heard_text")):
                end = row.get("speech_end_s")
                last = float(end) if end is not None else last
                items.append((last, order, "agent heard", str(row["agent_heard_text"]), turn))
                order += 1
        announced = row.get("agent_reply_text")
        heard = row.get("spoken_text") or row.get("agent_audio_text")
        onset = row.get("agent_onset_s")
        if announced or heard:
            last = float(onset) if onset is not None else last
            items.append((last, order, "agent", str(announced or heard), turn))
            order += 1
            if announced and _differs(announced, heard):
                items.append((last, order, "caller heard", str(heard), turn))
                order += 1
    for call in tool_calls:
        at = call.get("_at_s")
        items.append((float(at) if at is not None else last, order, "tool", tool_line(call), None))
        order += 1
    items.sort(key=lambda item: (item[0], item[1]))
    return [
        Line(n=i + 1, who=who, text=_cut(text), at_s=round(at, 3), turn=turn)
        for i, (at, _, who, text, turn) in enumerate(items)
    ]


def tool_calls(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The agent's tool calls as stored in a call row: name, arguments, result, `_at_s`."""
    return [
        {
            "name": e["name"],
            "arguments": e.get("arguments") or {},
            "result": e.get("result"),
            "_at_s": e.get("_at_s"),
        }
        for e in agent_tool_calls(events)
    ]


def render(lines: Sequence[Line]) -> str:
    """The numbered transcript as the prompt shows it."""
    return "\n".join(f"{line.n}. {line.label}" for line in lines)
