"""The same KnowledgeBase against a real Chroma server (`chroma run`) on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge.embeddings import make_embeddings
from knowledge.service import KnowledgeBase

CHROMA = Path(sys.executable).with_name("chroma")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "server"), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with {proc.returncode}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("chroma server did not answer its heartbeat within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_ingest_and_answer_through_a_chroma_server(chroma_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vacances.md").write_text(
        "---\ntitle: Mode vacances\nlanguage: fr\n---\n\n## Durée\n\n"
        "Le mode vacances dure au maximum 21 jours consécutifs.\n"
    )
    (docs / "photos.md").write_text(
        "# Photos\n\n## Size\n\nPhotos must be at least 1000 x 1000 pixels.\n"
    )
    kb = KnowledgeBase.open(chroma_url=chroma_url, embeddings=make_embeddings())
    assert kb.ingest(docs).documents == 2
    # A second client (another replica) sees the same index and ingest metadata.
    other = KnowledgeBase.open(chroma_url=chroma_url, embeddings=make_embeddings())
    stats = other.stats()
    assert stats["documents"] == 2 and stats["last_ingest"]
    assert other.ingest(docs).unchanged == 2
    assert other.retrieve("combien de jours en mode vacances", k=1)[0].source == "vacances.md"
