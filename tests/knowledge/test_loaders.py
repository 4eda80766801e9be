"""Loaders and chunking per format, and the reasons a file is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.chunking import chunk_document
from knowledge.loaders import LoadError, load_document


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def make_pdf(path: Path, title: str, paragraphs: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for p in paragraphs:
        pdf.multi_cell(0, 6, p)
        pdf.ln(6)
    pdf.output(str(path))
    return path


def test_markdown_front_matter_and_section_paths(tmp_path: Path) -> None:
    md = _write(
        tmp_path / "sub" / "guide.md",
        "---\ntitle: Guide des retours\nsource_url: https://x.example/retours\nlanguage: fr\n"
        "effective_date: 2026-03-01\n---\n\n# Guide des retours\n\nIntro.\n\n## Délais\n\n"
        "Trente jours.\n\n### Fêtes\n\nJusqu'au 31 janvier.\n\n## Frais\n\nÀ la charge du vendeur.\n",
    )
    doc = load_document(md, tmp_path)
    assert doc.source == "sub/guide.md"
    assert (doc.title, doc.url, doc.language, doc.effective_date) == (
        "Guide des retours", "https://x.example/retours", "fr", "2026-03-01",
    )  # fmt: skip
    sections = [" > ".join(s.path) for s in doc.sections]
    assert sections == [
        "Guide des retours",
        "Guide des retours > Délais",
        "Guide des retours > Délais > Fêtes",
        "Guide des retours > Frais",
    ]


def test_html_title_headings_canonical_and_language(tmp_path: Path) -> None:
    html = _write(
        tmp_path / "p.html",
        '<html lang="en"><head><title>Photo rules</title>'
        '<link rel="canonical" href="https://x.example/photos"></head><body>'
        "<h1>Photo rules</h1><p>Intro text.</p><h2>Size</h2><ul><li>At least 1000 px.</li>"
        "<li>White background.</li></ul><script>var x=1;</script></body></html>",
    )
    doc = load_document(html, tmp_path)
    assert (doc.title, doc.url, doc.language) == ("Photo rules", "https://x.example/photos", "en")
    assert doc.sections[1].path == ("Photo rules", "Size")
    assert "- At least 1000 px." in doc.sections[1].text and "var x" not in doc.sections[1].text


def test_plain_text_capital_headings(tmp_path: Path) -> None:
    txt = _write(
        tmp_path / "t.txt",
        "Suspension du compte\n\nIntro, source https://x.example/s.\n\nMOTIFS\n\nFraude avérée.",
    )
    doc = load_document(txt, tmp_path)
    assert doc.title == "Suspension du compte" and doc.url == "https://x.example/s"
    assert doc.sections[-1].path == ("Suspension du compte", "Motifs")


def test_pdf_is_read(tmp_path: Path) -> None:
    pdf = make_pdf(
        tmp_path / "g.pdf",
        "Shipping guide",
        ["Ship within two business days.", "Use tracked carriers."],
    )
    doc = load_document(pdf, tmp_path)
    assert doc.title == "Shipping guide"
    assert "two business days" in " ".join(s.text for s in doc.sections)
    assert doc.language == "en"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.md", "---\ntitle: [unclosed\n---\n# T\n\nBody.\n", "malformed YAML front matter"),
        ("unclosed.md", "---\ntitle: T\n# T\n\nBody.\n", "malformed YAML front matter"),
        ("latin1.md", "# Délai\n\ncaf\xe9".encode("latin-1"), "not valid UTF-8"),
        ("empty.md", "  \n\n", "empty file"),
        ("corrupt.pdf", b"%PDF-1.4\n1 0 obj garbage\n%%EOF", "PDF"),
        ("image.png", b"\x89PNG", "unsupported file type"),
        ("only-meta.md", "---\ntitle: Nothing\n---\n", "no text"),
    ],
)
def test_bad_files_raise_a_reason(
    tmp_path: Path, name: str, content: str | bytes, reason: str
) -> None:
    path = _write(tmp_path / name, content)
    with pytest.raises(LoadError, match=reason):
        load_document(path, tmp_path)


def test_long_sections_split_on_paragraphs_with_a_cap(tmp_path: Path) -> None:
    paragraphs = [f"Paragraphe {i}. " + "mot " * 60 for i in range(8)]
    md = _write(tmp_path / "long.md", "# Long\n\n## Partie\n\n" + "\n\n".join(paragraphs))
    chunks = chunk_document(load_document(md, tmp_path), max_chars=700)
    assert len(chunks) >= 3
    assert all(len(c.text) <= 700 for c in chunks)
    assert all(c.section == "Long > Partie" for c in chunks)
    assert chunks[0].text.startswith("Paragraphe 0.")  # paragraphs kept whole, in order
    assert len({c.chunk_id for c in chunks}) == len(chunks)
