"""The report's newer sections, each on rows whose answer is known here."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from reports import load, matrix
from reports.html import write_report
from reports.transcripts import audio_html, diff_html
from reports.waterfall import dominant_stage, spans_by_turn, turn_segments, waterfall_html


def _turn(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "call_id": "c1",
        "scenario": "s",
        "turn": 1,
        "kind": "say",
        "speech_start_s": 1.0,
        "speech_end_s": 2.5,
        "agent_onset_s": 3.0,
        "agent_end_s": 4.0,
        "latency_ms": 500.0,
        "stages": {"endpoint_ms": 240.0, "stt_ms": 10.0, "llm_ttft_ms": 100.0, "tts_ms": 30.0},
        "trace_id": "t1",
    }
    row.update(kw)
    return row


# ------------------------------------------------------------------ waterfall


def test_waterfall_lays_stages_after_speech_end_and_keeps_the_remainder() -> None:
    segs = {s.label: (s.start_ms, s.end_ms) for s in turn_segments(_turn())}
    assert segs["caller speech"] == (-1500.0, 0.0)
    assert segs["endpointing"] == (0.0, 240.0)
    assert segs["STT"] == (240.0, 250.0)
    assert segs["LLM first token"] == (250.0, 350.0)
    assert segs["TTS first audio"] == (350.0, 380.0)
    assert segs["network/unexplained"] == (380.0, 500.0)  # 500 measured - 380 explained
    assert segs["agent speech"] == (500.0, 1500.0)


def test_waterfall_without_stages_is_all_remainder_and_none_without_latency() -> None:
    segs = turn_segments(_turn(stages={}))
    assert [(s.label, s.ms) for s in segs if s.label == "network/unexplained"] == [
        ("network/unexplained", 500.0)
    ]
    assert turn_segments(_turn(latency_ms=None)) == []
    assert turn_segments({"latency_ms": 12.0}) != []  # a row with nothing else still draws


T0 = 1_764_000_000_000_000_000  # the call's wall clock at caller sample 0 (ns)


def _span(name: str, span_id: str, start_s: float, end_s: float, **kw: Any) -> dict[str, Any]:
    """A spans.jsonl row (simulator/rows.py SpanRow) at seconds on the call's timeline."""
    row = {"source": "agent", "service": "agent", "trace_id": "t1", "span_id": span_id}
    row |= {"parent_span_id": None, "name": name, "attrs": {}}
    row |= {"start_ns": T0 + int(start_s * 1e9), "end_ns": T0 + int(end_s * 1e9)}
    return row | kw


def test_waterfall_uses_the_agent_leaf_spans_of_the_turn_as_spans_jsonl_holds_them() -> None:
    call = {"call_id": "c1", "trace_id": "t1", "wall_t0_ns": T0}
    turns = [_turn(), _turn(turn=2, speech_start_s=5.0, speech_end_s=6.0)]
    spans = [
        _span("turn", "a", 2.5, 3.1),  # a parent: not a stage
        _span("stt", "b", 2.5, 2.55, parent_span_id="a"),
        _span("llm", "c", 2.55, 2.85, parent_span_id="a"),
        _span("other-turn", "d", 5.2, 6.2),  # starts in turn 2
        _span("caller_turn 1", "e", 1.0, 4.0, source="harness"),  # the harness's own
        _span("elsewhere", "f", 2.6, 2.7, trace_id="t9"),  # another call's trace
    ]
    by_turn = spans_by_turn([call], turns, spans)
    assert [s["name"] for s in by_turn[("c1", 1)]] == ["stt", "llm"]
    assert [s["name"] for s in by_turn[("c1", 2)]] == ["other-turn"]
    segs = {s.label: (s.start_ms, s.end_ms) for s in turn_segments(turns[0], by_turn)}
    assert "turn" not in segs and "other-turn" not in segs and "endpointing" not in segs
    assert segs["stt"] == pytest.approx((0.0, 50.0))
    assert segs["llm"] == pytest.approx((50.0, 350.0))
    assert segs["network/unexplained"] == pytest.approx((350.0, 500.0))


def test_a_call_without_its_wall_clock_keeps_the_stages_the_agent_reported() -> None:
    by_turn = spans_by_turn(
        [{"call_id": "c1", "trace_id": "t1"}], [_turn()], [_span("stt", "b", 2.5, 2.6)]
    )
    assert by_turn == {}
    assert "endpointing" in {s.label for s in turn_segments(_turn(), by_turn)}


def test_dominant_stage_is_taken_over_the_slowest_turns() -> None:
    fast = [_turn(turn=i, latency_ms=400.0) for i in range(9)]
    slow = _turn(
        turn=9,
        latency_ms=1000.0,
        stages={"endpoint_ms": 240.0, "stt_ms": 10.0, "llm_ttft_ms": 600.0, "tts_ms": 30.0},
    )
    label, share, n, floor = dominant_stage([*fast, slow]) or ("", 0, 0, 0)
    assert (label, n, floor) == ("LLM first token", 1, 1000.0)
    assert share == pytest.approx(0.6)


def test_turn_waterfall_html_has_one_bar_per_segment_and_skips_wait_turns() -> None:
    page = waterfall_html(_turn(), None, 1000.0)
    assert page.count('class="seg"') == 7 and 'data-turn="c1-1"' in page
    assert waterfall_html(_turn(kind="wait"), None) == ""


# ------------------------------------------------------------------ accent x noise


def _cell_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    calls, turns = [], []
    for i, (voice, snr, edits) in enumerate(
        [("en-us", 20, 0), ("en-us", 5, 2), ("en-029", 20, 1), ("en-029", 5, 5)]
    ):
        calls.append(
            {"call_id": f"c{i}", "matrix": {"caller.voice": voice, "caller.noise.snr_db": snr}}
        )
        turns.append(
            _turn(call_id=f"c{i}", wer_ref_words=10, wer_subs=edits, wer_dels=0, wer_ins=0)
        )
    return calls, turns


def test_cells_give_corpus_wer_per_accent_and_noise_and_rank_the_worst() -> None:
    calls, turns = _cell_rows()
    assert matrix.axes(calls, turns) == ("caller.voice", "caller.noise.snr_db")
    cells = {(c.accent, c.noise): c.wer for c in matrix.cells(calls, turns)}
    assert cells == {
        ("en-029", "20"): 0.1,
        ("en-029", "5"): 0.5,
        ("en-us", "20"): 0.0,
        ("en-us", "5"): 0.2,
    }
    worst = matrix.worst_cells(matrix.cells(calls, turns), 2)
    assert [(c.accent, c.noise) for c in worst] == [("en-029", "5"), ("en-us", "5")]
    fig = matrix.heatmap_figure(matrix.cells(calls, turns), ("caller.voice", "snr"))
    assert fig is not None
    heat = fig.data[0]
    assert list(heat.y) == ["en-029", "en-us"] and list(heat.x) == ["20", "5"]
    assert [list(r) for r in heat.z] == [[10.0, 50.0], [0.0, 20.0]]


def test_no_matrix_values_means_no_heatmap() -> None:
    assert matrix.axes([{"call_id": "c", "matrix": {}}], [_turn()]) is None
    assert matrix.cells([{"call_id": "c"}], [_turn()]) == []


# ------------------------------------------------------------------ transcripts


def test_diff_marks_missed_and_inserted_words_and_escapes() -> None:
    said, heard = diff_html("Book it for Tuesday, now!", "book it for thursday now please")
    assert said == "book it for <del>tuesday</del> now"
    assert heard == "book it for <ins>thursday</ins> now <ins>please</ins>"
    s2, h2 = diff_html("a & b", "<script>")
    assert "<script>" not in h2 and "script" in h2


def test_audio_is_embedded_as_data_uri_only_with_the_flag(tmp_path: Path) -> None:
    (tmp_path / "audio" / "c1").mkdir(parents=True)
    (tmp_path / "audio" / "c1" / "mix.wav").write_bytes(b"RIFFdata")
    call = {"audio_dir": "audio/c1"}
    linked = audio_html(tmp_path, call, embed=False)
    assert linked == '<a href="audio/c1/mix.wav">mix</a>'
    from reports.transcripts import AudioBudget

    embedded = audio_html(tmp_path, call, embed=True, budget=AudioBudget())
    assert f"data:audio/wav;base64,{base64.b64encode(b'RIFFdata').decode()}" in embedded
    assert audio_html(tmp_path, {"audio_dir": "../etc"}, embed=True) == ""


# ------------------------------------------------------------------ load curve


def test_breakpoint_is_the_marked_step_else_the_first_over_limit_or_erroring() -> None:
    rows = [
        {"concurrency": 4, "latency_p95_ms": 700, "error_rate": 0.0},
        {"concurrency": 1, "latency_p95_ms": 400, "error_rate": 0.0},
        {"concurrency": 8, "latency_p95_ms": 900, "error_rate": 0.0},
        {"concurrency": 16, "latency_p95_ms": 950, "error_rate": 0.2},
    ]
    assert (load.breakpoint_step(rows, 800) or {})["concurrency"] == 8
    assert (load.breakpoint_step(rows, None) or {})["concurrency"] == 16
    marked = [*rows, {"concurrency": 2, "breakpoint": True}]
    assert (load.breakpoint_step(marked, 800) or {})["concurrency"] == 2
    assert load.breakpoint_step(rows[:2], 800) is None
    # rows the load run judged: its verdict stands, even where 1 % errors would break here
    judged = [{**r, "breakpoint": False} for r in rows]
    assert load.breakpoint_step(judged, 800) is None
    fig = load.load_figure(rows, 800)
    assert fig is not None and list(fig.data[0].x) == [1, 4, 8, 16]


def test_the_load_section_says_how_callers_joined() -> None:
    spread = [{"concurrency": 2, "arrivals_s": 8.04}, {"concurrency": 4, "arrivals_s": 9.5}]
    assert "spread over 8.0-9.5 s" in load.arrivals_note(spread)
    assert "spread over 8.0 s" in load.arrivals_note([*spread[:1], {"arrivals_s": 0.0}])
    assert "all at once" in load.arrivals_note([{"concurrency": 4, "arrivals_s": 0.0}])
    assert load.arrivals_note([{"concurrency": 4}]) == ""  # recorded before arrivals were


def test_the_load_section_names_the_levels_that_started_from_an_idle_agent() -> None:
    rows = [{"concurrency": 64}, {"concurrency": 48, "cooled_s": 24.2}, {"concurrency": 40}]
    note = load.cooldown_note([*rows, {"concurrency": 44, "cooled_s": 12.9}])
    assert "(48, 44)" in note and "13-24 s" in note
    assert load.cooldown_note(rows[:1]) == ""


def test_soak_windows_are_drawn_against_time_with_the_agents_memory() -> None:
    rows = [
        {
            "concurrency": 4,
            "phase": "soak",
            "started_s": 120.0,
            "latency_p95_ms": 520,
            "agent_rss_mb": 210.0,
        },
        {
            "concurrency": 4,
            "phase": "soak",
            "started_s": 0.0,
            "latency_p95_ms": 500,
            "agent_rss_mb": 200.0,
        },
        {"concurrency": 4, "phase": "ramp", "started_s": 60.0, "latency_p95_ms": 999},
    ]
    fig = load.soak_figure(rows)
    assert fig is not None
    assert list(fig.data[0].x) == [0.0, 2.0]  # minutes, in time order, soak rows only
    assert list(fig.data[1].y) == [500, 520] and list(fig.data[2].y) == [200.0, 210.0]
    assert load.soak_figure(rows[:1]) is None


# ------------------------------------------------------------------ the page


def test_sections_hide_without_their_data_and_show_with_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "turns.jsonl").write_text(json.dumps({"call_id": "x", "latency_ms": 300}) + "\n")
    bare = write_report(run_dir).read_text("utf-8")
    for hidden in ('id="matrix"', 'id="load"', 'id="baseline"', "<h2>Turn-taking</h2>"):
        assert hidden not in bare
    assert 'id="waterfall"' in bare and "INCOMPLETE" in bare

    calls, turns = _cell_rows()
    for t in turns:
        t["agent_overlap"] = t is turns[0]
    (run_dir / "turns.jsonl").write_text("".join(json.dumps(t) + "\n" for t in turns))
    (run_dir / "calls.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    (run_dir / "load.jsonl").write_text(json.dumps({"concurrency": 1, "error_rate": 0}) + "\n")
    full = write_report(run_dir).read_text("utf-8")
    for shown in ('id="matrix"', 'id="load"', "<h2>Turn-taking</h2>", 'id="call-c3"'):
        assert shown in full
    assert '<td class="num">1 / 4</td>' in full  # agent_overlap count over caller turns
