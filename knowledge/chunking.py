"""Cut a document into chunks that follow its headings.

One section is one chunk when it fits; a long section is packed paragraph by
paragraph up to `max_chars`, and a paragraph longer than that is cut on
sentences. Every chunk keeps its section path, so a citation can name it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from knowledge.loaders import Document
from knowledge.textnorm import sentences

MAX_CHARS = 900
SECTION_SEP = " > "
# Bump when the chunker's output changes, so re-ingest re-embeds everything once.
# 2: each chunk's quotable units are embedded too (knowledge.index, "<name>-units").
CHUNKER_VERSION = "2"


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    source: str
    section: str
    text: str
    ordinal: int

    def embedding_text(self) -> str:
        return embedding_text(self.section, self.text)


def embedding_text(section: str, text: str) -> str:
    """What the models see of a passage or one of its sentences: the heading path gives a
    short text its topic."""
    return f"{section}\n{text}"


def chunk_document(doc: Document, *, max_chars: int = MAX_CHARS) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in doc.sections:
        path = SECTION_SEP.join(section.path)
        for piece in _pack(section.text, max_chars):
            digest = hashlib.sha256(f"{doc.source}\0{path}\0{piece}".encode()).hexdigest()[:24]
            if digest in seen:  # a repeated paragraph in the same section adds nothing
                continue
            seen.add(digest)
            chunks.append(Chunk(digest, doc.source, path, piece, len(chunks)))
    return chunks


def _pack(text: str, max_chars: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    units: list[str] = []
    for paragraph in text.split("\n\n"):
        if len(paragraph) <= max_chars:
            units.append(paragraph)
        else:
            units.extend(_hard_split(paragraph, max_chars))
    out: list[str] = []
    current = ""
    for unit in units:
        if current and len(current) + 2 + len(unit) > max_chars:
            out.append(current)
            current = unit
        else:
            current = f"{current}\n\n{unit}" if current else unit
    if current:
        out.append(current)
    return out


def _hard_split(paragraph: str, max_chars: int) -> list[str]:
    out: list[str] = []
    current = ""
    for sentence in sentences(paragraph):
        while len(sentence) > max_chars:  # a run-on "sentence": cut on a space
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            out.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > max_chars:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        out.append(current)
    return out
