"""WER per matrix cell is corpus WER over the cell's turns, shown as a table and heatmap."""

from __future__ import annotations

from reports.matrix_wer import heatmap, markdown_table, matrix_section, wer_cells

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


def test_the_table_and_heatmap_show_every_cell() -> None:
    cells = wer_cells(CALLS, TURNS)
    table = markdown_table(cells)
    assert "| en-us | 5 | 70.0% | 2 | 10 | 1 |" in table
    fig = heatmap(cells)
    assert fig is not None
    assert list(fig.data[0].y) == ["en-us", "engine=piper,voice=joe"]
    assert list(fig.data[0].x) == ["5", "20"]
    assert fig.data[0].z[1][1] is None  # piper at 20 dB was not run


def test_no_matrix_no_section() -> None:
    assert matrix_section([{"call_id": "a-000", "matrix": {}}], TURNS) == ("", "")
