"""The protocol `walletauth serve` runs: what one turn of the event loop writes reaches the
socket as one write, in order, and nothing is lost at close."""

import asyncio

import httpx

from tests.server.conftest import make_settings, serving
from walletauth.server.signin.http_protocol import _TurnBufferedTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_writes_of_one_turn_go_out_as_one_write_at_its_end():
    recording = RecordingTransport()
    buffered = _TurnBufferedTransport(recording, asyncio.get_running_loop())
    buffered.write(b"HTTP/1.1 200 OK\r\n\r\n")
    buffered.write(b"body")
    assert recording.writes == []
    await asyncio.sleep(0)
    assert recording.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    buffered.write(b"next")
    await asyncio.sleep(0)
    assert recording.writes[1:] == [b"next"]


async def test_closing_writes_what_is_held_first():
    recording = RecordingTransport()
    buffered = _TurnBufferedTransport(recording, asyncio.get_running_loop())
    buffered.write(b"last words")
    buffered.close()
    assert recording.writes == [b"last words"]
    assert recording.closed
    await asyncio.sleep(0)
    assert recording.writes == [b"last words"]


async def test_the_rest_is_the_wrapped_transports():
    buffered = _TurnBufferedTransport(RecordingTransport(), asyncio.get_running_loop())
    assert buffered.get_extra_info("peername") == "info:peername"


def test_keep_alive_requests_and_a_streamed_answer_arrive_whole(tmp_path):
    with serving(make_settings(tmp_path)) as (url, _app), httpx.Client(base_url=url) as client:
        nonces = {client.get("/auth/nonce").json()["nonce"] for _ in range(20)}
        metrics = client.get("/metrics")
    assert len(nonces) == 20
    assert metrics.status_code == 200
    assert "walletauth_nonces_issued_total 20.0" in metrics.text
