"""Helpers for the tests that run real `comptoir` processes (serve, worker).

Such a test fails on a loaded CI machine by running out of time, never by a speed assertion:
bounds are generous, and every timeout says what each process printed, so a failure shows
whether the child was slow, stuck or dead.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMPTOIR = Path(sys.executable).with_name("comptoir")


class Proc:
    """`comptoir ARGS` with its stderr lines collected as they come (`lines`).

    Its stderr is a pipe the test holds both ends of, so `fill_stderr()` can stop reading and
    fill it: the child's next write then blocks, as with a parent that stopped reading."""

    def __init__(self, name: str, args: Iterable[str], env: dict[str, str]) -> None:
        self.name = name
        self._read_end, self._write_end = os.pipe()
        self.proc = subprocess.Popen(
            [str(COMPTOIR), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._write_end,
        )
        self.lines: list[str] = []
        self._hold = threading.Event()
        self._idle = threading.Event()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        pending = b""
        while not self._closed:
            if self._hold.is_set():
                self._idle.set()
                time.sleep(0.05)
                continue
            try:
                ready, _, _ = select.select([self._read_end], [], [], 0.2)
                chunk = os.read(self._read_end, 65536) if ready else b""
            except (OSError, ValueError):  # stop() closed it
                return
            *complete, pending = (pending + chunk).split(b"\n")
            texts = (ln.replace(b"\0", b"").decode(errors="replace") for ln in complete)
            self.lines += [t for t in texts if t]  # NULs: fill_stderr()'s, not the child's

    def said(self, fragment: str) -> str | None:
        """The first line holding `fragment`, if any."""
        return next((line for line in list(self.lines) if fragment in line), None)

    def fill_stderr(self) -> None:
        """Stop reading the child's stderr and fill the pipe: its next write blocks."""
        self._hold.set()
        self._idle.wait(5)
        # A description of the pipe of our own (Linux): O_NONBLOCK on the shared one would
        # make the child's writes fail instead of block.
        filler = os.open(f"/proc/self/fd/{self._write_end}", os.O_WRONLY | os.O_NONBLOCK)
        for size in (4096, 1):  # a write of up to 4096 bytes is all or nothing: then bytes
            with contextlib.suppress(BlockingIOError):
                while True:
                    os.write(filler, b"\0" * size)  # NULs: no line of the child's
        os.close(filler)
        self.lines.append("[the test stopped reading this process's stderr here]")

    def resume_stderr(self) -> None:
        self._hold.clear()

    def output(self) -> str:
        code = self.proc.poll()
        state = "running" if code is None else f"exited {code}"
        tail = "\n    ".join(self.lines[-60:]) or "(nothing)"
        return f"--- {self.name} (pid {self.pid}, {state}) said:\n    {tail}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        if not self._closed:
            self.resume_stderr()
            time.sleep(0.3)  # the last lines, for a failure's report
            self._closed = True
            self._reader.join(1.0)
            os.close(self._read_end)
            os.close(self._write_end)


def wait_for(
    check: Callable[[], Any], *, timeout: float, what: str, procs: Iterable[Proc] = ()
) -> Any:
    """Poll `check` until it returns something truthy; on timeout, fail with every process's
    output."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            shown = "\n".join(p.output() for p in procs)
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{shown}")
        time.sleep(0.1)


def listening_url(serve: Proc, *, timeout: float = 120) -> str:
    line = wait_for(
        lambda: serve.said("listening on"), timeout=timeout, what="serve", procs=[serve]
    )
    found = re.search(r"listening on (http://[^/\s]+)", line)
    assert found, line
    return found.group(1)


def children(pid: int) -> list[int]:
    """The children of every thread of `pid` (serve forks its worker from a thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found += [int(p) for p in (task / "children").read_text().split()]
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` itself, from /proc (no psutil)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpRelay:
    """A TCP relay from 127.0.0.1:`port` to `target`, to make a database unreachable and
    reachable again: `start()` opens the port, `stop()` closes it and cuts every
    connection through it, as a database restart or a network cut does."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> TcpRelay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            # wakes the thread blocked in accept() (Linux), so the port is free at once
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def env_for(**settings: Any) -> dict[str, str]:
    """The environment of a child: this one without COMPTOIR_* settings, plus `settings`."""
    # stderr buffered as in production: PYTHONUNBUFFERED (set by some CI runners) changes how
    # a process behaves once its stderr is gone
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COMPTOIR_") and k != "PYTHONUNBUFFERED"
    }
    env.update({f"COMPTOIR_{k.upper()}": str(v) for k, v in settings.items()})
    return env
