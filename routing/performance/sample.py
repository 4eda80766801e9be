"""A realistic, reproducible seller directory and metrics history for demos and benchmarks.

Each seller follows a profile: stable, declining slowly, declining suddenly, improving, or new
(too few orders to be scored). A latent "trouble" level in [0, 1] drives every metric; each
seller is more sensitive to some metrics than others, so sellers fail in different ways.
Orders follow a weekly rhythm; counts are Poisson/binomial draws, so days are noisy.
Everything is drawn from one numpy Generator: the same seed gives the same files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from routing.performance.metrics_import import COLUMNS

PROFILES = ("stable", "declining_slowly", "declining_suddenly", "improving", "new")
_PROFILE_SHARE = (0.62, 0.11, 0.08, 0.11, 0.08)
# Monday … Sunday: marketplaces sell more early in the week
_WEEKLY = np.array([1.18, 1.06, 1.0, 0.98, 0.94, 0.86, 0.98])
_ALNUM = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
_NAMES = (
    "Atelier", "Maison", "Boutique", "Comptoir", "Galerie", "Studio", "Bazar", "Épicerie",
    "Cave", "Librairie", "Jardin", "Garage",
)  # fmt: skip
_THEMES = (
    "du Lin", "Lumière", "des Sports", "Azur", "du Bois", "Nord", "Céramique", "Vélo",
    "Bébé", "Gourmand", "Rétro", "Tech",
)  # fmt: skip


@dataclass(frozen=True)
class SampleInfo:
    sellers_csv: Path
    metrics_csv: Path
    first_day: date
    last_day: date
    rows: int
    profiles: dict[str, str]  # seller_id -> profile

    def counts(self) -> dict[str, int]:
        return {p: sum(1 for v in self.profiles.values() if v == p) for p in PROFILES}

    def to_json(self) -> dict[str, object]:
        return {
            "sellers_csv": str(self.sellers_csv),
            "metrics_csv": str(self.metrics_csv),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "sellers": len(self.profiles),
            "rows": self.rows,
            "profiles": self.counts(),
        }


def write_sample(
    out_dir: Path, *, sellers: int, days: int, seed: int = 7, end: date | None = None
) -> SampleInfo:
    """Write out_dir/sellers.csv (directory) and out_dir/metrics.csv (one row per seller-day,
    ending on `end`, yesterday UTC by default)."""
    if sellers < 1 or days < 1:
        raise ValueError("sellers and days must be at least 1")
    end = end or (datetime.now(UTC).date() - timedelta(days=1))
    first = end - timedelta(days=days - 1)
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    ids = [f"S{i + 1:05d}" for i in range(sellers)]
    profile_idx = rng.choice(len(PROFILES), size=sellers, p=_PROFILE_SHARE)
    profiles = {sid: PROFILES[k] for sid, k in zip(ids, profile_idx, strict=True)}
    sellers_csv = out_dir / "sellers.csv"
    _write_directory(sellers_csv, ids, rng)

    trouble, volume, start = _trajectories(rng, profile_idx, days)
    metrics_csv = out_dir / "metrics.csv"
    rows = _write_metrics(metrics_csv, ids, first, trouble, volume, start, rng)
    return SampleInfo(sellers_csv, metrics_csv, first, end, rows, profiles)


def _write_directory(path: Path, ids: list[str], rng: np.random.Generator) -> None:
    n = len(ids)
    managers = [f"U0AM{''.join(rng.choice(_ALNUM, 5))}" for _ in range(max(2, min(6, n // 4 + 2)))]
    am_idx = rng.integers(0, len(managers), n)
    no_am = rng.random(n) < 0.12  # long-tail sellers nobody looks after yet
    tiers = rng.choice(["gold", "silver", "bronze"], size=n, p=[0.15, 0.35, 0.5])
    langs = rng.choice(["fr", "en"], size=n, p=[0.75, 0.25])
    opt_out = rng.random(n) < 0.05
    suffix = rng.choice(_ALNUM, size=(n, 3))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["seller_id", "name", "channel_id", "account_manager_id", "tier", "language", "nudges"]
        )
        for i, sid in enumerate(ids):
            name = f"{_NAMES[i % len(_NAMES)]} {_THEMES[(i // len(_NAMES)) % len(_THEMES)]} {i + 1}"
            channel = f"C0{i + 1:06d}{''.join(suffix[i])}"  # unique by construction
            am = "" if no_am[i] else managers[am_idx[i]]
            w.writerow([sid, name, channel, am, tiers[i], langs[i], "off" if opt_out[i] else "on"])


def _trajectories(
    rng: np.random.Generator, profile_idx: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """trouble (S, D) in [0, 1], expected orders per day (S,), first active day (S,)."""
    n = len(profile_idx)
    t = np.arange(days)[None, :] / max(days - 1, 1)
    base = rng.beta(1.2, 12.0, n)[:, None]  # most sellers are good
    trouble = np.repeat(base, days, axis=1)
    p = profile_idx[:, None]
    slow = rng.uniform(0.35, 0.7, n)[:, None]
    trouble = np.where(p == 1, base + slow * t, trouble)
    cut = rng.integers(days // 2, max(days // 2 + 1, days - 3), n)[:, None]
    jump = rng.uniform(0.45, 0.8, n)[:, None]
    trouble = np.where(p == 2, base + jump * (np.arange(days)[None, :] >= cut), trouble)
    high = rng.uniform(0.45, 0.75, n)[:, None]
    trouble = np.where(p == 3, high + (base - high) * t, trouble)
    trouble = np.clip(trouble + rng.normal(0, 0.03, (n, days)), 0.0, 1.0)

    volume = np.exp(rng.normal(1.6, 0.9, n))  # ~5 orders a day, a long tail of big sellers
    is_new = profile_idx == PROFILES.index("new")
    volume = np.where(is_new, rng.uniform(0.1, 0.7, n), np.maximum(volume, 1.2))
    start = np.where(is_new, rng.integers(max(days - 40, 0), days, n), 0)
    return trouble, volume, start


def _level(q: np.ndarray, alert: float, limit: float, best: float) -> np.ndarray:
    """A metric's expected value for trouble q: the brief's alert at q = 0.35, its limit at
    q = 0.55, linear in between and beyond, never better than `best`."""
    slope = (limit - alert) / 0.2
    value = alert + (q - 0.35) * slope
    return np.minimum(value, best) if slope < 0 else np.maximum(value, best)


def _write_metrics(
    path: Path,
    ids: list[str],
    first: date,
    trouble: np.ndarray,
    volume: np.ndarray,
    start: np.ndarray,
    rng: np.random.Generator,
) -> int:
    n, days = trouble.shape
    # each seller weighs each metric differently: trouble shows where they are weak
    sens = rng.uniform(0.3, 1.3, (n, 8))
    q = trouble[:, :, None] * sens[:, None, :]  # (S, D, 8)
    weekday = np.array([(first + timedelta(days=d)).weekday() for d in range(days)])
    lam = volume[:, None] * _WEEKLY[weekday][None, :]
    orders = rng.poisson(lam)
    accepted = rng.binomial(orders, _level(q[..., 0], 97, 95, 99.7) / 100)
    delay = _level(q[..., 1], 20, 24, 6)
    cancels = rng.binomial(accepted, _level(q[..., 2], 1.5, 2.5, 0.2) / 100)
    shipments = accepted - cancels
    late = rng.binomial(shipments, _level(q[..., 3], 4, 8, 1.0) / 100)
    tracked = rng.binomial(shipments, _level(q[..., 4], 97, 95, 99.7) / 100)
    messages = rng.poisson(orders * 0.35 + 0.1)
    response = _level(q[..., 5], 20, 24, 4)
    incidents = rng.binomial(orders, _level(q[..., 6], 3, 5, 0.5) / 100)
    ratings = rng.binomial(orders, 0.3)
    rating = _level(q[..., 7], 4.2, 4.0, 4.85)
    # day means scatter around the level, less when there are more events behind them
    delay_obs = delay * rng.gamma(8.0, 1 / 8.0, (n, days))
    resp_obs = response * rng.gamma(6.0, 1 / 6.0, (n, days))
    rating_obs = np.clip(
        rating + rng.normal(0, 0.6, (n, days)) / np.sqrt(np.maximum(ratings, 1)), 1, 5
    )

    day_strs = [(first + timedelta(days=d)).isoformat() for d in range(days)]
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for i, sid in enumerate(ids):
            o, a, c, s = (
                orders[i].tolist(),
                accepted[i].tolist(),
                cancels[i].tolist(),
                shipments[i].tolist(),
            )
            lt, tr, m, inc, rc = (
                late[i].tolist(), tracked[i].tolist(), messages[i].tolist(),
                incidents[i].tolist(), ratings[i].tolist(),
            )  # fmt: skip
            dl, rs, rt = delay_obs[i].tolist(), resp_obs[i].tolist(), rating_obs[i].tolist()
            for d in range(int(start[i]), days):
                w.writerow(
                    (
                        sid, day_strs[d], o[d], a[d], f"{dl[d]:.2f}" if a[d] else "", c[d], s[d],
                        lt[d], tr[d], m[d], f"{rs[d]:.2f}" if m[d] else "", inc[d], rc[d],
                        f"{rt[d]:.2f}" if rc[d] else "",
                    )
                )  # fmt: skip
                rows += 1
    return rows
