"""One SLA sweep over many open tickets, on SQLite and on PostgreSQL.

Loads N open tickets (two running clocks each: first_response and resolution) with core
bulk inserts, their next_fire_at spread over the next three days so that a few hundred
are due now (as after a quiet minute), then times `sla_clocks.sweep` in its own
transaction (commit included), and a second sweep right after, which must fire nothing.
Target: under 1 s for 100,000 tickets. PostgreSQL gets a fresh database on 127.0.0.1:5432,
dropped afterwards.

    python -m bench.sla_sweep [--quick] [--tickets N] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text

from bench.databases import database
from routing import migrate
from routing.db import make_engine, make_sessionmaker, transaction
from routing.models import Seller, SlaClock, Ticket
from routing.sla_clocks import sweep
from routing.sla_policy import load_policy

NOW = datetime(2026, 3, 4, 10, tzinfo=UTC)  # a Wednesday morning
DUE_PER_THOUSAND = 3  # clocks already due at NOW, per thousand tickets
SELLERS = 500
CHUNK = 10_000


def rows(n: int, rng: random.Random) -> tuple[list[dict[str, Any]], ...]:
    sellers = [
        {
            "seller_id": f"S{i:05d}",
            "name": f"Seller {i}",
            "channel_id": f"C{i:08d}",
            "account_manager_id": f"U{i % 20:08d}" if i % 7 else None,
            "tier": "silver",
            "language": "fr",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for i in range(SELLERS)
    ]
    tickets, clocks = [], []
    due_target = max(1, n * DUE_PER_THOUSAND // 1000)
    for i in range(n):
        level = rng.choice((1, 1, 2, 2, 2, 3))
        created = NOW - timedelta(minutes=rng.randint(1, 3 * 24 * 60))
        tickets.append(
            {
                "id": i + 1,
                "number": 1001 + i,
                "seller_id": f"S{i % SELLERS:05d}",
                "channel_id": f"C{i % SELLERS:08d}",
                "thread_ts": f"{1700000000 + i}.000100",
                "kind": "problem",
                "level": level,
                "category": "payout",
                "status": "open",
                "language": "fr",
                "summary": "Mon virement n'est pas arrivé",
                "confidence": 0.8,
                "reasons": [],
                "created_at": created,
                "updated_at": created,
            }
        )
        for target in ("first_response", "resolution"):
            # A few hundred due in the last minutes, the rest pending over three days.
            if i < due_target and target == "first_response":
                fire = NOW - timedelta(seconds=rng.randint(1, 600))
            else:
                fire = NOW + timedelta(seconds=rng.randint(60, 3 * 24 * 3600))
            deadline = fire + timedelta(minutes=30 if level == 3 else 60)
            clocks.append(
                {
                    "ticket_id": i + 1,
                    "target": target,
                    "generation": 1,
                    "level": level,
                    "started_at": created,
                    "consumed_seconds": 0.0,
                    "running_since": created,
                    "deadline_at": deadline,
                    "warn_at": fire,
                    "next_fire_at": fire,
                    "status": "running",
                }
            )
    return sellers, tickets, clocks


def run(kind: str, n: int) -> dict[str, Any]:
    policy = load_policy()
    sellers, tickets, clocks = rows(n, random.Random(42))
    with database(kind) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(Seller), sellers)
            for i in range(0, len(tickets), CHUNK):
                conn.execute(insert(Ticket), tickets[i : i + CHUNK])
            for i in range(0, len(clocks), CHUNK):
                conn.execute(insert(SlaClock), clocks[i : i + CHUNK])
        with engine.begin() as conn:
            # What autovacuum would have done by now on a live database.
            conn.execute(text("ANALYZE"))
        load_s = time.perf_counter() - t0
        factory = make_sessionmaker(engine)
        timings, fired = [], []
        for _ in range(2):
            t1 = time.perf_counter()
            with transaction(factory) as session:
                alerts = sweep(session, now=NOW, policy=policy)
            timings.append(time.perf_counter() - t1)
            fired.append(len(alerts))
        engine.dispose()
    return {
        "bench": "sla_sweep",
        "db": kind,
        "tickets": n,
        "clocks": len(clocks),
        "load_s": round(load_s, 2),
        "sweep_s": round(timings[0], 4),
        "fired": fired[0],
        "second_sweep_s": round(timings[1], 4),
        "second_fired": fired[1],
        "under_1s": timings[0] < 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sla_sweep")
    parser.add_argument("--quick", action="store_true", help="10,000 tickets")
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    n = args.tickets or (10_000 if args.quick else 100_000)
    if n < 1:
        parser.error("--tickets must be at least 1")
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = []
    for kind in kinds:
        result = run(kind, n)
        results.append(result)
        print(
            f"{kind}: {n:,} open tickets ({result['clocks']:,} clocks, loaded in "
            f"{result['load_s']} s): sweep {result['sweep_s'] * 1000:.0f} ms, "
            f"{result['fired']} fired; second sweep {result['second_sweep_s'] * 1000:.0f} ms, "
            f"{result['second_fired']} fired",
            flush=True,
        )
    print(json.dumps({"bench": "sla_sweep", "results": results}))
    ok = all(r["second_fired"] == 0 and r["fired"] > 0 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
