"""`comptoir serve` watches the worker it started: a dead worker is logged and restarted.

Without this, a worker killed by the kernel (out of memory) or by hand left serve acking
messages that nobody answered, with nothing in the log. The supervisor polls its child twice a
second (a sleeping thread: no CPU at idle), says how it ended (exit code or signal), and starts
another after a delay that doubles with each quick death (1 s, 2 s, 4 s ... up to
RESTART_MAX_SECONDS), back to the first delay once a worker has lived RESTART_RESET_SECONDS.
A worker that fails at start-up therefore costs a restart a minute, not a busy loop.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.inbox import stop_worker_process

RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 60.0
RESTART_RESET_SECONDS = 60.0
POLL_SECONDS = 0.5


def describe_exit(returncode: int) -> str:
    """'killed by SIGKILL' or 'exited with code 1' (Popen gives -N for signal N)."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with code {returncode}"


class WorkerSupervisor:
    """Starts a worker with `spawn()` and keeps one running until `stop()`.

    `state()` is what /healthz shows of it. The thread that restarts workers lives as long as
    the supervisor: on Linux a child's PR_SET_PDEATHSIG fires when the thread that forked it
    ends, so a worker is never left without the order to die with serve.
    """

    def __init__(
        self,
        spawn: Callable[[], subprocess.Popen[Any]],
        *,
        announce: Callable[[str], None],
        first_delay: float = RESTART_FIRST_SECONDS,
        max_delay: float = RESTART_MAX_SECONDS,
        reset_after: float = RESTART_RESET_SECONDS,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.spawn = spawn
        self.announce = announce
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.reset_after = reset_after
        self.poll = poll
        self.restarts = 0
        self.last_exit: str | None = None
        self._proc: subprocess.Popen[Any] | None = None
        self._started_at = 0.0
        self._next_start: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> WorkerSupervisor:
        self._thread = threading.Thread(target=self._run, name="comptoir-supervisor", daemon=True)
        self._thread.start()
        return self

    def state(self) -> dict[str, Any]:
        """The child as serve sees it (cheap: no system call but a non-blocking waitpid)."""
        with self._lock:
            proc = self._proc
            alive = proc is not None and proc.poll() is None
            state: dict[str, Any] = {
                "pid": proc.pid if alive and proc is not None else None,
                "alive": alive,
                "restarts": self.restarts,
                "last_exit": self.last_exit,
            }
            if not alive and self._next_start is not None:
                state["restart_in_s"] = round(max(self._next_start - time.monotonic(), 0.0), 1)
            return state

    def _run(self) -> None:
        delay = self.first_delay
        while not self._stop.is_set():
            try:
                self._launch()
            except Exception as exc:  # a fork that fails (no memory): try again later
                self.announce(f"could not start the worker: {exc}")
            else:
                while not self._stop.wait(self.poll):
                    assert self._proc is not None
                    if self._proc.poll() is not None:
                        break
                if self._stop.is_set():
                    return
                assert self._proc is not None
                lived = time.monotonic() - self._started_at
                if lived >= self.reset_after:
                    delay = self.first_delay
                with self._lock:
                    self.last_exit = describe_exit(self._proc.returncode)
                    self._next_start = time.monotonic() + delay
                self.announce(
                    f"worker {self._proc.pid} {self.last_exit} after {lived:.0f} s;"
                    f" restarting it in {delay:g} s"
                )
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, self.max_delay)
            with self._lock:
                self.restarts += 1

    def _launch(self) -> None:
        proc = self.spawn()
        with self._lock:
            self._proc, self._started_at, self._next_start = proc, time.monotonic(), None
        if self.restarts:
            self.announce(f"worker restarted (pid {proc.pid}, restart {self.restarts})")

    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop restarting, then stop the worker (SIGTERM; SIGKILL after `timeout`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.poll + 5.0)
        with self._lock:
            proc = self._proc
        if proc is not None:
            stop_worker_process(proc, timeout=timeout)
