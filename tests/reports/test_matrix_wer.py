"""WER per matrix cell is corpus WER over the cell's turns, shown as a table and heatmap."""

from __future__ import annotations

from reports.matrix_wer import markdown_table, wer_cells

CALLS = [
    {"call_id": "g-000", "matrix": {"voice": "en-us", "snr": 5}},
    {"call_id": "g-001", "matrix": {"voice": "en-us", "snr": 20}},
    {"call_id": "g-002", "matrix": {"voice": {"engine": "piper", "voice": "joe"}, "snr": 5}},
]


def _turn(call: str, subs: int, words: int) -> dict[str, object]:
    return {
        "call_id": call,
        "kind": "say",
        "wer": subs / words,
        "wer_subs": subs,
        "wer_dels": 0,
        "wer_ins": 0,
        "wer_ref_words": words,
        "latency_ms": None if subs == words else 300.0,
    }


TURNS = [_turn("g-000", 1, 4), _turn("g-000", 6, 6), _turn("g-001", 0, 5), _turn("g-002", 2, 8)]


def test_a_cell_wer_is_total_errors_over_total_words() -> None:
    cells = wer_cells(CALLS, TURNS)
    assert [c.wer for c in cells] == [0.7, 0.0, 0.25]
    assert (cells[0].turns, cells[0].words, cells[0].replies) == (2, 10, 1)
    assert cells[2].values[0] == ("voice", "engine=piper,voice=joe")


def test_the_table_shows_every_cell() -> None:
    table = markdown_table(wer_cells(CALLS, TURNS))
    assert "| en-us | 5 | 70.0% | 2 | 10 | 1 |" in table
