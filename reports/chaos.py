"""The report's chaos section: what killing a fleet instance mid-run cost.

A `voxsim load --chaos kill-instance@T` run stores its analysis in run.json
(`load.chaos`, simulator/load/chaos.py `analyse`): per kill the calls live, lost
(on the killed instance or elsewhere), reconnected and resumed with their state,
the P95 before, the worst P95 after and when it recovered; per restart when the
instance served again; and whether every turn row the calls announced is on disk.
The terminal prints the same figures (`summary_lines`); this renders them as tables.
"""

from __future__ import annotations

from typing import Any

from reports.markup import as_dict, e, num_td, table


def chaos_section(run: dict[str, Any]) -> str:
    """The "Chaos" section for a run whose load block has a chaos analysis, else ""."""
    chaos = as_dict(as_dict(run.get("load")).get("chaos"))
    if not chaos:
        return ""
    kills = [as_dict(k) for k in chaos.get("kills") or []]
    restarts = [as_dict(r) for r in chaos.get("restarts") or []]
    parts = ['<h2 id="chaos">Chaos</h2>', _accounting(as_dict(chaos.get("accounting")))]
    if kills:
        parts.append(_kills_table(kills))
    if restarts:
        parts.append(_restarts_table(restarts))
    return "".join(parts)


def _accounting(acc: dict[str, Any]) -> str:
    """One line: were all rows kept (the run's promise when an instance dies)."""
    if not acc:
        return ""
    verdict = "nothing lost" if acc.get("complete") else "ROWS MISSING"
    cls = "pass" if acc.get("complete") else "fail"
    return (
        f'<p><b class="{cls}">{verdict}</b>: {e(acc.get("calls"))} calls, '
        f"{e(acc.get('turn_rows'))} of {e(acc.get('turn_rows_expected'))} turn rows on disk "
        f"({e(acc.get('calls_cut_at_end'))} calls cut short by the end of the run).</p>"
    )


def _kills_table(kills: list[dict[str, Any]]) -> str:
    headers = [
        ("action", False),
        ("instance", False),
        ("at s", True),
        ("calls live", True),
        ("on it", True),
        ("lost", True),
        ("lost elsewhere", True),
        ("reconnected", True),
        ("resumed", True),
        ("turns after", True),
        ("P95 before ms", True),
        ("worst P95 ms", True),
        ("P95 recovered after s", True),
    ]
    rows = []
    for k in kills:
        rec = k.get("p95_recovery_s")
        cells = [f"<td>{e(k.get('action'))}</td>", f"<td>{e(k.get('instance'))}</td>"]
        for key in (
            "t_s",
            "calls_live",
            "on_killed",
            "calls_lost",
            "lost_elsewhere",
            "reconnected",
            "resumed",
            "turns_after",
            "p95_before_ms",
            "p95_worst_ms",
        ):
            cells.append(num_td(e(k.get(key))))
        cells.append(num_td("never" if rec is None else e(rec), "" if rec is not None else "fail"))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return table(headers, rows)


def _restarts_table(restarts: list[dict[str, Any]]) -> str:
    headers = [("restart", False), ("at s", True), ("serving again after s", True)]
    rows = [
        f"<tr><td>{e(r.get('instance'))}</td>{num_td(e(r.get('t_s')))}"
        f"{num_td(e(r.get('ready_after_s')))}</tr>"
        for r in restarts
    ]
    return table(headers, rows)
