"""The viewer session registry (a fake clock)."""

from __future__ import annotations

from ffmpeg_operator.api.sessions import SESSION_TIMEOUT_S, SessionRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_segments_count_towards_the_clients_latest_playlist() -> None:
    clock = Clock()
    registry = SessionRegistry(clock=clock)
    registry.record("10.0.0.1", "player", "/memfs/chan.m3u8", 100)
    registry.record("10.0.0.1", "player", "/memfs/chan_output_0_17.ts", 1000)
    (session,) = registry.active("hls")
    assert (session["reference"], session["bytes_tx"]) == ("chan", 1100)
    # The http collector counts the same reads (and every other file read) the same way.
    assert registry.figures("http")["tx_bytes"] == 1100


def test_two_clients_are_two_sessions_of_one_reference() -> None:
    registry = SessionRegistry(clock=Clock())
    registry.record("10.0.0.1", "a", "/chan.m3u8", 10)
    registry.record("10.0.0.2", "a", "/chan.m3u8", 10)
    assert registry.reference_sessions("hls", "chan") == (2, 2)
    assert registry.reference_sessions("hls", "other") == (0, 0)


def test_a_session_ends_after_the_timeout_and_stays_in_the_totals() -> None:
    clock = Clock()
    registry = SessionRegistry(clock=clock)
    registry.record("10.0.0.1", "a", "/chan.m3u8", 10)
    clock.now += SESSION_TIMEOUT_S + 1
    assert registry.active("hls") == []
    assert registry.reference_sessions("hls", "chan") == (0, 1)
    assert registry.summary("hls")["summary"]["sessions"] == 1


def test_bandwidth_is_the_average_of_the_recent_window() -> None:
    clock = Clock()
    registry = SessionRegistry(clock=clock)
    registry.record("10.0.0.1", "a", "/chan.m3u8", 128 * 1024)
    (session,) = registry.active("hls")
    assert session["bandwidth_tx_kbit"] == 128 * 1024 * 8 / 1024 / 10
    clock.now += 11
    (session,) = registry.active("hls")
    assert session["bandwidth_tx_kbit"] == 0


def test_ignored_networks_are_not_collectable() -> None:
    registry = SessionRegistry(["127.0.0.1/32", "10.0.0.0/8"])
    assert not registry.collectable("127.0.0.1")
    assert not registry.collectable("10.1.2.3")
    assert registry.collectable("127.0.0.3")
    assert registry.collectable("::1")


def test_unknown_collectors_have_no_sessions() -> None:
    registry = SessionRegistry()
    assert registry.active("rtmp") == []
    assert registry.figures("srt")["active"] == 0


def test_master_playlist_is_no_session_of_its_own() -> None:
    registry = SessionRegistry(clock=Clock())
    registry.record("10.0.0.1", "a", "/chan.m3u8", 100, master=True)
    registry.record("10.0.0.1", "a", "/chan_output_0.m3u8", 200)
    registry.record("10.0.0.1", "a", "/chan_output_0_5.ts", 1000)
    (session,) = registry.active("hls")
    assert (session["reference"], session["bytes_tx"]) == ("chan_output_0", 1200)
