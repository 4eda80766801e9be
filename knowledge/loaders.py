"""Read guideline files (Markdown, HTML, text, PDF) into titled sections.

A loader never guesses past a broken file: it raises `LoadError` with a reason
the operator can act on, and the ingest reports that file as skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.lang import detect_language
from knowledge.types import Language

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
            ".txt": "text", ".pdf": "pdf"}  # fmt: skip


class LoadError(Exception):
    """The file cannot be ingested; str(exc) says why."""


@dataclass(frozen=True)
class Section:
    path: tuple[str, ...]  # heading path, the title first
    text: str


@dataclass
class Document:
    source: str  # path relative to the ingested folder, with "/"
    title: str
    language: Language
    url: str | None
    effective_date: str | None
    content_hash: str
    sections: list[Section] = field(default_factory=list)


@dataclass
class _Head:
    title: str | None = None
    url: str | None = None
    language: str | None = None
    effective_date: str | None = None


def load_document(path: Path, root: Path) -> Document:
    """Read one file; raises LoadError for unreadable, malformed, unsupported or empty files."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise LoadError(f"unsupported file type {path.suffix or '(none)'}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"unreadable: {exc.strerror or exc}") from exc
    if not raw.strip():
        raise LoadError("empty file")
    readers: dict[str, Callable[[bytes], tuple[_Head, list[tuple[int, str, str]]]]] = {
        "markdown": _read_markdown,
        "html": _read_html,
        "text": _read_text,
        "pdf": _read_pdf,
    }
    head, blocks = readers[kind](raw)
    title = head.title or _first_heading(blocks) or path.stem.replace("-", " ").replace("_", " ")
    sections = _sections(title, blocks)
    if not sections:
        raise LoadError("no text to index")
    body = " ".join(s.text for s in sections)
    language = head.language if head.language in ("fr", "en") else None
    return Document(
        source=path.relative_to(root).as_posix(),
        title=title,
        language=language or detect_language(f"{title}. {body[:3000]}"),  # type: ignore[arg-type]
        url=head.url,
        effective_date=head.effective_date,
        content_hash=hashlib.sha256(raw).hexdigest(),
        sections=sections,
    )


# A block is (heading level 1-3, or 0 for body text; heading or body text; "" unused).
Block = tuple[int, str, str]


def _first_heading(blocks: list[Block]) -> str | None:
    return next((text for level, text, _ in blocks if level == 1), None)


def _sections(title: str, blocks: list[Block]) -> list[Section]:
    """Group body blocks under their h1-h3 path; the title leads every path."""
    heads: dict[int, str] = {}
    path: list[str] = [title]
    out: list[Section] = []
    current: list[str] = []

    def flush() -> None:
        text = "\n\n".join(b for b in current if b.strip()).strip()
        if text:
            out.append(Section(tuple(path), text))
        current.clear()

    for level, text, _ in blocks:
        if level == 0:
            current.append(text)
            continue
        flush()
        heads = {lv: h for lv, h in heads.items() if lv < level}
        heads[level] = text
        # An h1 restating the title is the title itself, not a level below it.
        path = [title] + [
            heads[lv]
            for lv in sorted(heads)
            if not (lv == 1 and heads[lv].strip() == title.strip())
        ]
    flush()
    return out


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not valid UTF-8 (byte {exc.start})") from exc


_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?$\n?", re.S | re.M)
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^(```|~~~)")


def _read_markdown(raw: bytes) -> tuple[_Head, list[Block]]:
    text = _decode(raw)
    head = _Head()
    match = _FRONT.match(text)
    if match is None and text.startswith("---\n"):
        raise LoadError("malformed YAML front matter: no closing '---'")
    if match:
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise LoadError(f"malformed YAML front matter: {_first_line(exc)}") from exc
        if not isinstance(meta, dict):
            raise LoadError("malformed YAML front matter: expected key: value pairs")
        head = _Head(
            title=_str(meta.get("title")),
            url=_str(meta.get("source_url")),
            language=_str(meta.get("language")),
            effective_date=_str(meta.get("effective_date")),
        )
        text = text[match.end() :]
    blocks: list[Block] = []
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        if paragraph:
            blocks.append((0, "\n".join(paragraph).strip(), ""))
            paragraph.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            paragraph.append(line)
            continue
        heading = None if in_fence else _MD_HEADING.match(line)
        if heading and len(heading.group(1)) <= 3:
            flush()
            blocks.append((len(heading.group(1)), heading.group(2).strip(), ""))
        elif not line.strip() and not in_fence:
            flush()
        else:
            paragraph.append(line)
    flush()
    return head, blocks


def _read_html(raw: bytes) -> tuple[_Head, list[Block]]:
    from bs4 import BeautifulSoup
    from bs4.element import Tag

    soup = BeautifulSoup(_decode(raw), "html.parser")
    for junk in soup(["script", "style", "nav", "footer", "template", "noscript"]):
        junk.decompose()
    head = _Head()
    if soup.title and soup.title.get_text(strip=True):
        head.title = soup.title.get_text(" ", strip=True)
    canonical = soup.find("link", rel="canonical")
    if isinstance(canonical, Tag) and canonical.get("href"):
        head.url = str(canonical["href"])
    html_tag = soup.find("html")
    if isinstance(html_tag, Tag) and html_tag.get("lang"):
        head.language = str(html_tag["lang"]).split("-")[0].lower()
    for meta in soup.find_all("meta"):
        if not isinstance(meta, Tag):
            continue
        name = str(meta.get("name") or meta.get("http-equiv") or "").lower()
        content = str(meta.get("content") or "").strip()
        if name in ("language", "content-language") and content:
            head.language = content.split("-")[0].lower()
        elif name == "effective_date" and content:
            head.effective_date = content
    blocks: list[Block] = []
    block_tags = ["h1", "h2", "h3", "p", "li", "pre", "blockquote", "dd", "dt", "td", "th"]
    body = soup.body or soup
    for el in body.find_all(block_tags):
        if not isinstance(el, Tag) or el.find_parent(block_tags[3:]):
            continue  # nested in a block already taken whole
        text = el.get_text(" ", strip=True)
        if not text:
            continue
        if el.name in ("h1", "h2", "h3"):
            blocks.append((int(el.name[1]), text, ""))
        else:
            blocks.append((0, f"- {text}" if el.name == "li" else text, ""))
    return head, blocks


_URL = re.compile(r"https?://[^\s)>\]]+[^\s)>\].,;:]")


def _read_text(raw: bytes) -> tuple[_Head, list[Block]]:
    text = _decode(raw)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    head = _Head()
    # A short first line on its own is the title of a plain-text guideline.
    if (
        paragraphs
        and "\n" not in paragraphs[0]
        and len(paragraphs[0]) <= 120
        and len(paragraphs) > 1
    ):
        head.title = paragraphs.pop(0).strip().rstrip(".")
    # Plain-text guidelines often name their canonical page near the top.
    url = _URL.search("\n".join(paragraphs[:2]))
    head.url = url.group(0) if url else None
    return head, [
        (2, p[0] + p[1:].lower(), "") if _is_caps_heading(p) else (0, p, "") for p in paragraphs
    ]


def _is_caps_heading(paragraph: str) -> bool:
    """Plain text marks headings in capitals: "MOTIFS DE SUSPENSION"."""
    letters = [c for c in paragraph if c.isalpha()]
    return (
        "\n" not in paragraph
        and len(paragraph) <= 80
        and len(letters) >= 3
        and all(c.isupper() for c in letters)
    )


def _read_pdf(raw: bytes) -> tuple[_Head, list[Block]]:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(
        logging.ERROR
    )  # a corrupt file is reported, not logged twice
    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"corrupt or unreadable PDF: {_first_line(exc)}") from exc
    head = _Head(title=_str(info.title) if info else None)
    paragraphs: list[Block] = []
    for page in pages:
        for p in re.split(r"\n\s*\n", page):
            if p.strip():
                paragraphs.append((0, " ".join(p.split()), ""))
    if not paragraphs:
        raise LoadError("PDF has no extractable text (scanned image?)")
    return head, paragraphs


def _str(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
