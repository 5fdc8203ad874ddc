"""Throwaway servers for fault tests: each test starts its own on a free port in a
temporary directory, and may kill and restart it. The machine's shared PostgreSQL and
Redis are never stopped, restarted or flushed."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import in_ci


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binary(name: str, how: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed; {how}"
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


class ThrowawayRedis:
    """A redis-server of our own that keeps nothing on disk (as the machine's own), so a
    restart forgets everything, as a production Redis without persistence does."""

    def __init__(self, directory: Path) -> None:
        self.binary = _binary("redis-server", "install Debian's redis-server to run fault tests")
        self.directory = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: no chance to save anything, as a crash or an OOM kill."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture
def throwaway_redis(tmp_path) -> Iterator[ThrowawayRedis]:
    redis = ThrowawayRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.kill()
