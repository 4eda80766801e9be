"""The HTTP server's stop: one closer, the loop ends, and a later server is left alone."""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.request

from bot.server import HttpServer


def _ok(environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _get(server: HttpServer) -> bytes:
    with urllib.request.urlopen(f"{server.url}/", timeout=30) as response:
        return response.read()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError:
        return True
    return False


def test_stop_ends_the_loop_closes_the_port_and_spares_the_next_servers_descriptors() -> None:
    first = HttpServer(_ok, host="127.0.0.1", port=0, threads=1).start()
    assert _get(first) == b"ok"
    first.stop()
    assert first._thread is not None and not first._thread.is_alive()
    assert _refused(first.port)

    # the next server often gets the same descriptor numbers: stopping the first one again
    # (the tests' close is idempotent, a server's may be called twice) must not close them
    second = HttpServer(_ok, host="127.0.0.1", port=0, threads=1).start()
    first.stop()
    assert _get(second) == b"ok"
    second.stop()
    assert not second._thread.is_alive()  # type: ignore[union-attr]


def test_stop_ends_a_loop_whose_trigger_cannot_be_pulled() -> None:
    server = HttpServer(_ok, host="127.0.0.1", port=0, threads=1).start()
    assert _get(server) == b"ok"
    trigger = server._server.trigger
    write_end = trigger.trigger
    # the write end gone (what a stray close elsewhere in the process did in CI)
    os.close(write_end)
    trigger.trigger = os.open(os.devnull, os.O_RDONLY)  # writing to it fails: EBADF
    try:
        server.stop()
        assert not server._thread.is_alive()  # type: ignore[union-attr]
        assert _refused(server.port)
    finally:
        with contextlib.suppress(OSError):  # closed by stop() when it took the number over
            os.close(trigger.trigger)
