"""Per-call sections: what the caller said vs what the agent heard, word by word.

The diff is over normalised words (lower case, punctuation dropped), the
same view WER takes, so a highlighted word is an edit WER counted: struck
out red = the agent missed or misheard it, green = the agent heard a word
nobody said. Everything shown is escaped: agent text is untrusted.
Audio: links to the call's WAV files, or (with `embed_audio`) players whose
audio is inlined as data: URIs so the report stays one self-contained file.
"""

from __future__ import annotations

import base64
import difflib
import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from reports.conversation import conversation_summary, decision_row
from reports.stats import format_number
from simulator.audio import recording_files
from simulator.metrics.stats import as_number
from simulator.rows import CallRow, TurnRow

_WORD = re.compile(r"[a-z0-9']+")
#: embedding stops past this many bytes of audio per report (then links are used)
EMBED_LIMIT_BYTES = 40 * 1024 * 1024


def words(text: str | None) -> list[str]:
    """Lower-case words without punctuation (apostrophes inside words kept)."""
    return _WORD.findall((text or "").lower())


def diff_html(expected: str | None, heard: str | None) -> tuple[str, str]:
    """(expected, heard) as escaped HTML with the differing words marked <del>/<ins>."""
    a, b = words(expected), words(heard)
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        gone = html.escape(" ".join(a[i1:i2]))
        new = html.escape(" ".join(b[j1:j2]))
        if op == "equal":
            left.append(gone)
            right.append(new)
            continue
        if gone:
            left.append(f"<del>{gone}</del>")
        if new:
            right.append(f"<ins>{new}</ins>")
    return " ".join(left), " ".join(right)


def call_anchor(call_id: Any) -> str:
    """A stable, safe HTML id for a call's section."""
    return "call-" + re.sub(r"[^A-Za-z0-9_.-]", "_", str(call_id))


def _safe_rel(audio_dir: Any) -> PurePosixPath | None:
    if not isinstance(audio_dir, str) or not audio_dir or ":" in audio_dir:
        return None
    rel = PurePosixPath(audio_dir)
    return None if rel.is_absolute() or ".." in rel.parts else rel


class AudioBudget:
    """Counts bytes embedded so one report cannot grow without bound."""

    def __init__(self, limit: int = EMBED_LIMIT_BYTES) -> None:
        self.left = limit


def audio_html(run_dir: Path, call: CallRow, embed: bool, budget: AudioBudget | None = None) -> str:
    """Players (embedded) or links for the call's mix/caller/agent recordings that exist."""
    rel = _safe_rel(call.get("audio_dir"))
    if rel is None:
        return ""
    parts = []
    for path in recording_files(run_dir / rel):
        name, label, mime = path.name, path.stem, f"audio/{path.suffix[1:]}"
        size = path.stat().st_size
        if embed and budget is not None and size <= budget.left:
            budget.left -= size
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(
                f'<figure class="player"><figcaption>{label}</figcaption>'
                f'<audio controls preload="none" src="data:{mime};base64,{data}"></audio>'
                "</figure>"
            )
        else:
            href = html.escape(quote(str(rel / name), safe="/"), quote=True)
            parts.append(f'<a href="{href}">{label}</a>')
    return " ".join(parts)


def _transcript_row(row: TurnRow, waterfall: Callable[[TurnRow], str]) -> str:
    """One turn of a call's transcript: expected vs heard, WER, reply, latency, waterfall."""
    said, heard = diff_html(row.get("caller_text"), row.get("agent_heard_text"))
    wer = as_number(row.get("wer"))
    lat = as_number(row.get("latency_ms"))
    error = row.get("error")
    return (
        f'<tr><td class="num">{html.escape(str(row.get("turn")))}</td>'
        f"<td>{html.escape(str(row.get('kind', '')))}</td>"
        f'<td class="text">{said or "<span class=muted>—</span>"}</td>'
        f'<td class="text">{heard or "<span class=muted>—</span>"}</td>'
        f'<td class="num">{format_number(None if wer is None else wer * 100)}'
        f"{'%' if wer is not None else ''}</td>"
        f'<td class="text">{html.escape(str(row.get("agent_reply_text") or ""))}'
        + (f'<div class="fail">{html.escape(str(error))}</div>' if error else "")
        + f'</td><td class="num">{format_number(lat)}</td>'
        f'<td class="wfcell">{waterfall(row)}</td></tr>' + decision_row(row, 7)
    )


def calls_sections(
    calls: Sequence[CallRow],
    turns: Sequence[TurnRow],
    run_dir: Path,
    waterfall: Callable[[TurnRow], str],
    embed_audio: bool = False,
) -> str:
    """One <section> per call: status, audio, and per turn expected vs heard + waterfall."""
    by_call: dict[str, list[TurnRow]] = {}
    for row in turns:
        by_call.setdefault(str(row.get("call_id")), []).append(row)
    known = [str(c.get("call_id")) for c in calls]
    order = known + [cid for cid in by_call if cid not in known]
    call_rows = {str(c.get("call_id")): c for c in calls}
    budget = AudioBudget()
    out = []
    for cid in order:
        call = call_rows.get(cid, {})
        status = call.get("status", "no call row (run stopped?)")
        cls = "pass" if status == "ok" else "fail"
        audio = audio_html(run_dir, call, embed_audio, budget) if call else ""
        turns_of_call = sorted(by_call.get(cid, []), key=lambda r: as_number(r.get("turn")) or 0)
        rows = [_transcript_row(row, waterfall) for row in turns_of_call]
        error = call.get("error")
        out.append(
            f'<section class="call" id="{call_anchor(cid)}"><h3>{html.escape(cid)} '
            f'<span class="{cls}">{html.escape(str(status))}</span></h3>'
            + (f'<p class="fail">{html.escape(str(error))}</p>' if error else "")
            + conversation_summary(call)
            + (f'<div class="audio">{audio}</div>' if audio else "")
            + '<table class="transcript"><thead><tr><th class="num">turn</th><th>kind</th>'
            "<th>caller said (expected)</th><th>agent heard</th><th class='num'>WER</th>"
            "<th>agent replied</th><th class='num'>latency ms</th><th>waterfall</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>"
        )
    if not out:
        return ""
    return (
        "<h2>Calls: transcripts</h2>"
        '<p class="muted small"><del>struck</del> = said but not heard (or misheard), '
        "<ins>marked</ins> = heard but not said. Waterfall: "
        '<span class="key" style="background:#a9bfe0"></span>caller speech, stages, '
        '<span class="key" style="background:#9e9e9e"></span>network/unexplained, '
        '<span class="key" style="background:#a5d6a7"></span>agent speech; '
        "the black line is the end of the caller's speech.</p>" + "".join(out)
    )
