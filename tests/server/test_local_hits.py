"""Rate-limit counters in one worker's memory (no Redis configured)."""

from datetime import UTC, datetime, timedelta

from walletauth.server.web.local_hits import LocalHits

MINUTE = timedelta(seconds=60)
START = datetime.fromtimestamp(1_800_000_000 - 1_800_000_000 % 60 + 50, UTC)


async def test_hits_count_per_key_and_carry_into_the_next_window():
    hits = LocalHits()

    counts = [(await hits.count_hit("k", window=MINUTE, now=START)).count for _ in range(3)]
    other = await hits.count_hit("other", window=MINUTE, now=START)
    last = await hits.count_hit("k", window=MINUTE, now=START)
    next_window = await hits.count_hit("k", window=MINUTE, now=START + timedelta(seconds=10))

    assert counts == [1, 2, 3]
    assert other.count == 1
    assert (last.current, last.previous) == (4, 0)
    assert (next_window.current, next_window.previous, next_window.count) == (1, 4, 5)


def test_the_window_after_next_forgets_every_key_of_a_window():
    hits = LocalHits()
    for index in range(100):
        hits.count(f"client-{index}", window=MINUTE, now=START)

    hits.count("client-0", window=MINUTE, now=START + MINUTE)
    assert hits.peek("client-1", window=MINUTE, now=START + MINUTE).previous == 1
    hits.count("client-0", window=MINUTE, now=START + 2 * MINUTE)

    assert hits.count("client-1", window=MINUTE, now=START + 2 * MINUTE).count == 1
    windows = hits._windows[60.0]
    assert (len(windows.previous), len(windows.current)) == (1, 2)


def test_a_clock_that_steps_back_counts_into_the_newest_window():
    hits = LocalHits()
    hits.count("k", window=MINUTE, now=START + MINUTE)

    assert hits.count("k", window=MINUTE, now=START).count == 2


async def test_peeking_reads_the_current_window_without_adding_a_hit():
    hits = LocalHits()
    never_hit = await hits.peek_hits("k", window=MINUTE, now=START)
    for _ in range(2):
        hits.count("k", window=MINUTE, now=START)

    peeks = [(await hits.peek_hits("k", window=MINUTE, now=START)).count for _ in range(3)]
    later = await hits.peek_hits("k", window=MINUTE, now=START + timedelta(seconds=10))

    assert never_hit.count == 0
    assert peeks == [2, 2, 2]
    assert hits.count("k", window=MINUTE, now=START).count == 3
    assert (later.current, later.previous) == (0, 2)
    # Peeking into a new window keeps the old one's counts for whoever counts there.
    assert hits.count("k", window=MINUTE, now=START).count == 4
