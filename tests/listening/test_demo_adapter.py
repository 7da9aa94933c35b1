"""The demo replay: the Super Bowl night it plays, and the replay itself driven by a fake
clock. No database: sources stay unsaved."""

import bisect
import json
import re
import unicodedata
from collections import defaultdict
from datetime import datetime, timezone

import pytest

from listening.adapters import FetchResult, PermanentError
from listening.adapters import demo
from listening.models import Source

T0 = 1_800_000_000.0  # the fake clock's start


@pytest.fixture(scope="module")
def night() -> list[dict]:
    data = demo.DATA_FILE.read_bytes()
    return [json.loads(raw) for raw in data.split(b"\n") if raw.strip()]


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        t = T0

        def __call__(self) -> float:
            return self.t

    clock = Clock()
    monkeypatch.setattr(demo, "now", clock)
    return clock


def source(query: str = "speed=100", cursor: dict | None = None) -> Source:
    return Source(name="Demo", kind=Source.Kind.DEMO, query=query, cursor=cursor if cursor is not None else {})


def poll(src: Source) -> FetchResult:
    """Fetch and store the cursor, as the polling service does."""
    result = demo.fetch(src)
    src.cursor = result.cursor
    return result


def texts(night, pattern: str, flags=re.I) -> list[dict]:
    rx = re.compile(pattern, flags)
    return [line for line in night if rx.search(line["text"])]


def in_window(lines: list[dict], start: float, seconds: float = 600) -> int:
    offsets = [line["offset_s"] for line in lines]
    return bisect.bisect_left(offsets, start + seconds) - bisect.bisect_left(offsets, start)


# --- the night ------------------------------------------------------------------------------


def test_file_shape(night):
    assert 1800 <= len(night) <= 2500
    assert demo.DATA_FILE.stat().st_size < 1_000_000
    offsets = [line["offset_s"] for line in night]
    assert offsets == sorted(offsets) and offsets[0] >= 0 and offsets[-1] <= 4 * 3600 + 60
    ids = [line["id"] for line in night]
    assert len(set(ids)) == len(ids)
    position = {ident: i for i, ident in enumerate(ids)}
    for i, line in enumerate(night):
        assert {"offset_s", "id", "handle", "name", "followers", "text", "lang"} <= line.keys()
        assert isinstance(line["followers"], int) and line["followers"] >= 0
        assert isinstance(line["text"], str) and line["lang"]
        if "reply_to" in line:
            assert position[line["reply_to"]] < i  # replies answer something already said


def test_the_blackout_is_a_spike(night):
    rx = r"blackout|black out|lights out|lights (just )?went out|power|outage|apag[oó]n|went dark|se fue la luz"
    hits = texts(night, rx)
    starts = [t * 30.0 for t in range(int(4 * 3600 / 30))]
    counts = {start: in_window(hits, start) for start in starts}
    peak = max(starts, key=counts.__getitem__)
    assert counts[peak] >= 250, counts[peak]
    # Any ten minutes that do not overlap the spike carry a fraction of it, in blackout talk and overall.
    elsewhere = [s for s in starts if s + 600 <= peak or s >= peak + 600]
    assert max(counts[s] for s in elsewhere) * 4 < counts[peak]
    busiest_elsewhere = max(in_window(night, s) for s in elsewhere)
    assert in_window(night, peak) > 1.6 * busiest_elsewhere
    assert in_window(texts(night, r"lights out"), peak) >= 10
    assert in_window(texts(night, r"power"), peak) >= 30
    assert in_window(texts(night, r"blackout"), peak) >= 50


def test_the_ad_wave_and_real_time_brand_posts(night):
    ad = texts(night, r"librarian|goat|Quiet Please|HearTheWave")
    assert len(ad) >= 150
    brand = [line for line in night if line["handle"] == "Crunchwave"]
    assert any("Crunch still works" in line["text"] for line in brand)
    assert len(texts(night, r"^(We're still brewing|Lights out = pizza|Should've charged)")) >= 3


def test_the_safety_scare_clusters(night):
    scare = texts(night, r"allergic reaction|undeclared peanut|peanut|EpiPen|anaphylaxis|recall|\bER\b|hospital|got sick")
    assert len(scare) >= 50
    assert max(in_window(scare, s, 1800) for s in range(0, 4 * 3600, 60)) >= 40
    assert texts(night, r"my \w+ got sick after eating Crunchwave")
    assert texts(night, r"undeclared peanut")


def test_complaints_spam_and_hostility(night):
    assert len(texts(night, r"stale")) >= 10
    assert texts(night, r"plastic") and texts(night, r"refund") and texts(night, r"QuickCart")
    handles_by_text = defaultdict(set)
    for line in night:
        handles_by_text[line["text"]].add(line["handle"])
    assert max(len(h) for h in handles_by_text.values()) >= 20  # one text from many handles
    assert texts(night, r"airdrop|ETH|crypto")
    assert len(texts(night, r"clown|garbage|trash|clueless|pathetic")) >= 10


def test_people_and_languages(night):
    langs = defaultdict(int)
    for line in night:
        langs[line["lang"]] += 1
    assert langs["es"] >= 50 and langs["pt"] >= 30 and langs["fr"] >= 3
    assert langs["en"] > len(night) / 2
    assert any(line["followers"] >= 1_000_000 for line in night)
    assert sum(line["followers"] <= 20 for line in night) >= 50


def test_odd_text_is_there(night):
    all_text = [line["text"] for line in night]
    assert any(re.search(r"[\u0600-\u06ff]", t) for t in all_text)  # Arabic
    assert any(re.search(r"[\u0590-\u05ff]", t) for t in all_text)  # Hebrew
    assert any(re.search(r"\w[\u200b\u200c\u200d\u2060]\w", t) for t in all_text)  # zero-width inside a word
    assert any("\u202e" in t for t in all_text)
    assert any("<script>alert(1)</script>" in t for t in all_text)
    assert any("{{ 7*7 }}" in t for t in all_text)
    assert any('hx-get="/audit"' in t for t in all_text)
    assert max(len(t) for t in all_text) > 10_000
    assert any("\x00" in t for t in all_text)
    assert any(any(unicodedata.combining(c) for c in t) for t in all_text)
    assert any(t and not re.search(r"[\w#@]", t) and not t.isspace() for t in all_text)  # emoji only
    assert any("\u2028" in t for t in all_text)


def test_generator_is_deterministic(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_demo_data", demo.DATA_FILE.parents[2] / "scripts" / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "night.jsonl"
    module.main(["--out", str(out)])
    assert out.read_bytes() == demo.DATA_FILE.read_bytes()


# --- the replay -----------------------------------------------------------------------------


def due(night, elapsed: float, speed: float) -> list[dict]:
    return [line for line in night if line["offset_s"] / speed <= elapsed]


def test_first_poll_starts_the_clock(clock, night):
    src = source()
    result = poll(src)
    assert result.cursor == {"started_at": T0, "position": len(due(night, 0, 100)), "loop": 0, "speed": 100.0}
    assert result.reads == 0 and not result.more and result.notes == []


def test_returns_exactly_the_due_lines_then_resumes_without_repeats(clock, night):
    src = source("speed=100")
    poll(src)
    clock.t = T0 + 30  # 3,000 s of the night
    first = poll(src)
    expected = due(night, 30, 100)
    assert [m.external_id for m in first.mentions] == [line["id"] for line in expected]
    assert src.cursor["position"] == len(expected) and src.cursor["loop"] == 0
    assert not first.more

    clock.t = T0 + 60
    second = poll(src)
    expected_next = due(night, 60, 100)[len(expected):]
    assert [m.external_id for m in second.mentions] == [line["id"] for line in expected_next]
    assert not {m.external_id for m in first.mentions} & {m.external_id for m in second.mentions}

    assert poll(src).mentions == []  # same instant: nothing new


def test_mentions_are_mapped(clock, night):
    src = source("speed=100")
    poll(src)
    clock.t = T0 + 4 * 3600 / 100 - 1
    mentions = []
    while True:
        result = poll(src)
        mentions += result.mentions
        if not result.more:
            break
    by_id = {line["id"]: line for line in night}
    for m in mentions:
        line = by_id[m.external_id]
        assert m.text == line["text"]
        assert m.author_handle == line["handle"] and m.author_name == line["name"]
        assert m.author_followers == line["followers"] and m.lang == line["lang"]
        assert m.posted_at == datetime.fromtimestamp(T0 + line["offset_s"] / 100, tz=timezone.utc)
        assert m.posted_at.timestamp() <= clock.t
        assert m.url == ""
        assert m.in_reply_to == line.get("reply_to", "")
        assert m.conversation_id  # a root post is its own conversation
    replies = [m for m in mentions if m.in_reply_to]
    assert replies and all(by_id[m.conversation_id].get("reply_to") is None for m in replies)
    assert any("\x00" in m.text for m in mentions)  # passed through: ingest strips it
    assert max(len(m.text) for m in mentions) > 10_000  # passed through: ingest truncates


def test_a_burst_is_bounded_and_flagged(clock, night):
    src = source("speed=100")
    poll(src)
    clock.t = T0 + 110  # 11,000 s of the night: the blackout included
    expected = due(night, 110, 100)
    assert len(expected) > demo.BATCH
    seen = []
    for _ in range(10):
        result = poll(src)
        assert len(result.mentions) <= demo.BATCH
        seen += [m.external_id for m in result.mentions]
        if not result.more:
            break
    assert seen == [line["id"] for line in expected]


def test_loops_with_distinct_ids_and_never_repeats_within_a_loop(clock, night):
    src = source("speed=1000 pause=5")
    poll(src)
    length = night[-1]["offset_s"] / 1000
    loops: dict[int, list[str]] = defaultdict(list)
    step = 0.37  # polls that fall between lines, on lines, across the loop boundary
    while clock.t < T0 + 2 * (length + 5) + 1:
        clock.t += step
        loop = src.cursor["loop"]
        result = poll(src)
        loops[loop] += [m.external_id for m in result.mentions]
        assert len(result.mentions) <= demo.BATCH
    ids = [line["id"] for line in night]
    assert loops[0] == ids
    assert loops[1] == [f"{i}~1" for i in ids]
    assert len(set(loops[0]) | set(loops[1])) == 2 * len(ids)
    assert src.cursor["loop"] == 2


def test_next_loop_waits_for_the_pause(clock, night):
    src = source("speed=1000 pause=30")
    poll(src)
    end = T0 + night[-1]["offset_s"] / 1000
    clock.t = end
    while poll(src).more:
        pass
    assert src.cursor == {"started_at": end + 30, "position": 0, "loop": 1, "speed": 1000.0}
    clock.t = end + 29
    assert poll(src).mentions == []
    clock.t = end + 30 + night[3]["offset_s"] / 1000
    result = poll(src)
    assert [m.external_id for m in result.mentions] == [f"{line['id']}~1" for line in due(night, night[3]["offset_s"] / 1000, 1000)]
    reply = next(line for line in night if "reply_to" in line)
    clock.t = end + 30 + reply["offset_s"] / 1000
    while True:
        result = poll(src)
        mapped = [m for m in result.mentions if m.external_id == f"{reply['id']}~1"]
        if mapped or not result.more:
            break
    assert mapped[0].in_reply_to == f"{reply['reply_to']}~1"


def test_an_idle_room_resumes_where_it_stopped(clock, night):
    src = source("speed=100")
    poll(src)
    clock.t = T0 + 30
    poll(src)
    position = src.cursor["position"]
    clock.t = T0 + 6 * 3600  # the room was off for hours
    result = poll(src)
    assert any("idle" in note for note in result.notes)
    assert 1 <= len(result.mentions) <= 5  # the next line (and any sharing its instant), not a dump
    assert result.mentions[0].external_id == night[position]["id"]
    assert result.mentions[0].posted_at.timestamp() == pytest.approx(clock.t)
    assert src.cursor["loop"] == 0


def test_a_new_speed_keeps_the_moment_of_the_night(clock, night):
    src = source("speed=10")
    poll(src)
    clock.t = T0 + 250  # 2,500 s of the night at 10x
    poll(src)
    position = src.cursor["position"]
    src.query = "speed=100"
    assert poll(src).mentions == []  # no jump ahead
    clock.t += 10  # 1,000 s more of the night at 100x
    result = poll(src)
    assert [m.external_id for m in result.mentions] == [line["id"] for line in night[position:] if line["offset_s"] <= 3500]
    assert result.notes == []


@pytest.mark.parametrize("query,speed,pause", [
    ("", 10.0, 60.0), ("speed=10", 10.0, 60.0), ("25", 25.0, 60.0), ("speed=2.5x", 2.5, 60.0),
    ("speed=100 pause=0", 100.0, 0.0), ("SPEED=50&pause=5", 50.0, 5.0),
])
def test_options(query, speed, pause):
    assert demo.options(query)[:2] == (speed, pause)


@pytest.mark.parametrize("query", ["speed=0", "speed=-3", "speed=fast", "speed=nan", "speed=1e9", "pause=-1"])
def test_bad_options_are_refused_in_words(clock, query):
    with pytest.raises(PermanentError, match="demo (speed|pause) must be a number"):
        demo.fetch(source(query))


def test_unknown_option_is_a_note(clock):
    assert demo.fetch(source("speed=10 sped=100")).notes == ["ignored unknown demo option 'sped' (known: speed, pause)"]


def test_an_unreadable_cursor_starts_over(clock, night):
    result = demo.fetch(source("speed=100", {"started_at": "yesterday", "position": 3}))
    assert result.cursor["started_at"] == T0 and result.cursor["loop"] == 0
    assert result.notes == ["demo cursor was unreadable; starting the replay from the beginning"]


def test_malformed_lines_are_skipped_with_a_note(clock, monkeypatch, tmp_path):
    path = tmp_path / "night.jsonl"
    good = [{"offset_s": i, "id": f"g{i}", "handle": "h", "name": "n", "followers": 1, "text": f"t{i}", "lang": "en"} for i in range(4)]
    path.write_text("\n".join([
        json.dumps(good[0]),
        "{not json",
        "",
        json.dumps(good[1]),
        json.dumps({"offset_s": 1.5, "id": "no-text"}),
        json.dumps(good[1]),  # a duplicate id
        json.dumps(good[2]),
        "[1, 2]",
        json.dumps(good[3]),
        "",
    ]), encoding="utf-8")
    monkeypatch.setattr(demo, "DATA_FILE", path)
    demo.load.cache_clear()
    try:
        result = demo.fetch(source("speed=1 pause=0", {"started_at": T0 - 10, "position": 0, "loop": 0}))
        assert [m.external_id for m in result.mentions] == ["g0", "g1", "g2", "g3"]
        assert [note.split(":")[0] for note in result.notes] == [
            "skipped line 2 of night.jsonl", "skipped line 5 of night.jsonl",
            "skipped line 6 of night.jsonl", "skipped line 8 of night.jsonl",
        ]
        assert result.notes[0].startswith("skipped line 2 of night.jsonl: not JSON (")
        assert result.notes[1:] == [
            "skipped line 5 of night.jsonl: text is missing",
            "skipped line 6 of night.jsonl: duplicate id g1",
            "skipped line 8 of night.jsonl: not a JSON object",
        ]
        assert result.cursor["loop"] == 1 and result.cursor["position"] == 0
    finally:
        demo.load.cache_clear()


def test_a_missing_file_is_permanent(clock, monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "DATA_FILE", tmp_path / "gone.jsonl")
    with pytest.raises(PermanentError, match="make_demo_data"):
        demo.fetch(source())


def test_the_file_is_parsed_once(clock, monkeypatch):
    demo.load.cache_clear()
    demo.fetch(source())
    monkeypatch.setattr(demo.Path, "read_bytes", lambda self: pytest.fail("read twice"))
    demo.fetch(source())
