"""Throwaway servers for fault tests: each test starts its own on a free port in a
temporary directory, and may kill and restart it. The machine's shared PostgreSQL and
Redis are never stopped, restarted or flushed."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
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


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own (initdb + pg_ctl, as the ``postgres`` user when
    run as root) on a free port, in a temporary directory, with trust auth."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.directory = Path(tempfile.mkdtemp(prefix="walletauth-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:  # initdb refuses root; the cluster belongs to postgres
            shutil.chown(self.directory, "postgres", "postgres")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                  "-U", "postgres", "--no-sync", "-E", "UTF8")

    def pg_ctl(self, action: str, *options: str) -> None:
        self._run(
            str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-w", "-t", "60",
            "-l", str(self.directory / "log"),
            "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
                  " -c fsync=off",
            *options,
        )

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = _binary("initdb", "install PostgreSQL's server binaries to run fault tests")
    return Path(initdb).parent


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    postgres = ThrowawayPostgres()
    try:
        postgres.init()
        postgres.pg_ctl("start")
        yield postgres
    finally:
        postgres.remove()


class SmallDisk:
    """A tmpfs of a few MiB mounted for one test, and a filler file to run it full."""

    def __init__(self, mountpoint: Path) -> None:
        self.mountpoint = mountpoint
        self.filler = mountpoint / "filler"

    def fill(self, leave_bytes: int = 0) -> None:
        free = shutil.disk_usage(self.mountpoint).free
        with self.filler.open("ab") as filler:
            filler.write(b"\0" * max(0, free - leave_bytes))
        with contextlib.suppress(OSError), self.filler.open("ab") as filler:
            while True:  # tmpfs rounds to pages: take the last of them too
                filler.write(b"\0" * 512)
                filler.flush()

    def free_up(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[SmallDisk]:
    if os.geteuid() != 0:
        reason = "mounting a small tmpfs needs root; run the fault tests as root (as CI does)"
        if in_ci():
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mountpoint)],
                   check=True, capture_output=True)
    try:
        yield SmallDisk(mountpoint)
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, capture_output=True)
