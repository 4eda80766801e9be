"""The digest's chart: weekly score trends of the sellers that need attention, as a PNG.

Drawn with matplotlib's object API on an Agg canvas (no pyplot): pyplot keeps global figure
state, which two digest jobs in two threads would share. Fixed pixel size so a reader of the
DM sees the same picture every day, and a test can check the size from the PNG header.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before anything else in matplotlib: no display, ever

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

WIDTH_PX = 1000
HEIGHT_PX = 500
DPI = 100
MAX_SERIES = 8  # beyond eight lines nobody reads a line chart at a glance
# tab10 without grey (reads as "disabled") and olive (too close to the bands); one per seller
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
)
# The segments are not score ranges, except `top` (a score of at least top_min_score and no
# alert): a seller is at risk when a metric crosses its limit, whatever its score. So the only
# band is the top one, and a week the seller was at risk (or in exit review) is a red ring on
# its point.
TOP_COLOR = "#d4edda"  # shaded green from the top segment's floor
AT_RISK_COLOR = "#c62828"
AT_RISK_SEGMENTS = frozenset({"at_risk", "exit_review"})

_WORDS = {
    "fr": {
        "score": "Score (0–100)",
        "top": "top (≥ {top:g}, sans alerte)",
        "risk": "semaine à risque",
    },
    "en": {
        "score": "Score (0–100)",
        "top": "top (≥ {top:g}, no alert)",
        "risk": "week at risk",
    },
}


@dataclass(frozen=True)
class Chart:
    """The PNG and what is drawn in it (labels in legend order, one colour each)."""

    png: bytes
    labels: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    points: list[int] = field(default_factory=list)  # how many scores each line joins
    legend: list[str] = field(default_factory=list)  # every entry of the legend, in order
    width: int = WIDTH_PX
    height: int = HEIGHT_PX


Point = tuple[date, float | None, str | None]  # a week's day, score and segment


def score_trend_chart(
    series: Mapping[str, Sequence[Point]],
    *,
    title: str,
    language: str = "en",
    top_min_score: float = 85.0,
) -> Chart:
    """One labelled line per seller (the first MAX_SERIES, in the order given: put the most
    urgent first), over the top segment's band; each point is a week's (day, score, segment), and a
    week at risk or in exit review is ringed in red. Every word is in `language`. A seller with
    no score yet is left out; an empty `series` still gives a chart, saying so, rather than no
    picture."""
    words = _WORDS["fr" if language == "fr" else "en"]
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.axhspan(
        top_min_score,
        100.0,
        color=TOP_COLOR,
        zorder=0,
        label=words["top"].format(top=top_min_score),
    )
    risky_x: list[Any] = []
    risky_y: list[float] = []
    labels: list[str] = []
    colors: list[str] = []
    counts: list[int] = []
    for label, points in series.items():
        if len(labels) == MAX_SERIES:
            break
        kept = sorted((d, s, segment) for d, s, segment in points if s is not None)
        if not kept:
            continue
        color = PALETTE[len(labels)]
        xs: list[Any] = [d for d, _, _ in kept]  # matplotlib's stubs ignore its date support
        ys = [float(s) for _, s, _ in kept if s is not None]
        ax.plot(xs, ys, color=color, linewidth=2.5, marker="o", markersize=5, label=label)
        labels.append(label)
        colors.append(color)
        for d, y, (_, _, segment) in zip(xs, ys, kept, strict=True):
            if segment in AT_RISK_SEGMENTS:
                risky_x.append(d)
                risky_y.append(y)
        counts.append(len(kept))
    if risky_x:
        ax.scatter(
            risky_x, risky_y, s=160, facecolors="none", edgecolors=AT_RISK_COLOR, linewidths=2,
            zorder=3, label=words["risk"],
        )  # fmt: skip
    if not labels:
        ax.text(0.5, 0.5, "—", transform=ax.transAxes, ha="center", va="center", fontsize=24)
    ax.set_ylim(0, 100)
    ax.set_ylabel(words["score"])
    ax.set_title(title, fontsize=13)
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.8, zorder=1)
    fig.autofmt_xdate()
    legend = ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    fig.subplots_adjust(left=0.07, right=0.76, top=0.9, bottom=0.16)
    buf = io.BytesIO()
    # no bbox_inches="tight": it would change the pixel size with the legend's width
    fig.savefig(buf, format="png", dpi=DPI)
    return Chart(
        png=buf.getvalue(),
        labels=labels,
        colors=colors,
        points=counts,
        legend=[t.get_text() for t in legend.get_texts()],
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError when `data` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
