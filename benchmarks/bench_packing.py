"""How Redline packs raw pages and texts, against each packed alone with zstandard: bytes kept, and the
time to read them back.

Every editable fundus page is one article of its publisher's site (an origin per publisher), stored
through storage.record_version in five versions, each inserting a sentence into the body as the replay
newsroom does; its text is the corpus's ground-truth body with the same sentences. The bare baseline packs
each page alone at zstd level 9 and each text alone at level 3, the levels Redline uses for a whole one.
"""

from __future__ import annotations

import csv
import gzip
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import zstandard

import storage
from benchmarks.bench_newsroom import body_paragraphs, editable_pages, fundus_folder, version_of
from pipeline.config import SourceSettings
from pipeline.extract import hash_text
from pipeline.models import Entry, Fetched, Version, to_iso
from storage.db import _WHOLE_LEVEL
from storage.sqlite import TEXT_LEVEL

VERSIONS = 5
NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)


def bodies(folder: Path) -> dict[bytes, str]:
    """Each corpus page's ground-truth body text, by the page's first 4 kB."""
    found = {}
    with open(folder / "mapping.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            page = gzip.decompress((folder / row["html"]).read_bytes())
            found[page[:4096]] = "\n".join(body_paragraphs(folder, row))
    return found


def revised(text: str, number: int) -> str:
    return text + "".join(f" Officials later revised the figure to {1000 * n + 39} people." for n in range(1, number))


def store_all(db, pages, texts) -> list[tuple[int, bytes, str]]:
    """Store every page's versions as a check would; (article id, raw page, text) of each version stored."""
    source = storage.sync_sources(db, [SourceSettings(name="corpus", kind="urls", url="corpus.txt")])["corpus"]
    stored = []
    for i, (page, anchor, publisher) in enumerate(pages):
        url = f"https://{publisher.lower()}.example/a/{i}"
        storage.add_articles(db, source, [Entry(url=url)], NOW)
        article = storage.find_article(db, url)
        for number in range(1, VERSIONS + 1):
            raw, text = version_of(page, anchor, number), revised(texts[page[:4096]], number)
            version = Version(article_id=article.id, number=number, fetched_at=to_iso(NOW), text_hash=hash_text(text),
                              text=text)
            fetched = Fetched(url=url, final_url=url, status=200, at=NOW, elapsed_ms=1, body=raw)
            storage.record_version(db, version, raw, fetched, article)
            stored.append((article.id, raw, text))
    return stored


def main(corpus: str | None = None) -> None:
    folder = fundus_folder(corpus)
    pages, _ = editable_pages(folder)
    texts = bodies(folder)
    with tempfile.TemporaryDirectory() as tmp:
        db = storage.open_db(Path(tmp) / "packing.db")
        stored = store_all(db, pages, texts)
        kept_pages = db.execute("SELECT sum(length(bytes)) FROM blobs").fetchone()[0]
        kept_texts = db.execute("SELECT sum(length(text)) FROM versions").fetchone()[0]
        started = time.process_time()
        for (blob,) in db.execute("SELECT raw_blob FROM versions").fetchall():
            storage.get_blob(db, blob)
        page_read = (time.process_time() - started) / len(stored)
        started = time.process_time()
        for article_id in {article_id for article_id, _, _ in stored}:
            storage.list_versions(db, article_id)
        text_read = (time.process_time() - started) / len(stored)
    page_packer, text_packer = zstandard.ZstdCompressor(level=_WHOLE_LEVEL), zstandard.ZstdCompressor(level=TEXT_LEVEL)
    alone_pages = [page_packer.compress(raw) for _, raw, _ in stored]
    alone_texts = [text_packer.compress(text.encode()) for _, _, text in stored]
    started = time.process_time()
    for packed in alone_pages:
        zstandard.ZstdDecompressor().decompress(packed)
    bare_page_read = (time.process_time() - started) / len(stored)
    started = time.process_time()
    for packed in alone_texts:
        zstandard.ZstdDecompressor().decompress(packed).decode()
    bare_text_read = (time.process_time() - started) / len(stored)
    raw_bytes = sum(len(raw) for _, raw, _ in stored)
    text_bytes = sum(len(text.encode()) for _, _, text in stored)
    print(f"{len(pages)} articles of {len({p for _, _, p in pages})} sites, {VERSIONS} versions each: "
          f"{raw_bytes / 1e6:.1f} MB of pages, {text_bytes / 1e6:.1f} MB of text")
    print(f"  {'':30s} {'pages MB':>9s} {'texts MB':>9s} {'read a page':>12s} {'read a text':>12s}")
    print(f"  {'bare: each packed alone':30s} {sum(map(len, alone_pages)) / 1e6:9.2f} "
          f"{sum(map(len, alone_texts)) / 1e6:9.2f} {bare_page_read * 1e3:9.2f} ms {bare_text_read * 1e6:9.1f} us")
    print(f"  {'redline (chains, site pages)':30s} {kept_pages / 1e6:9.2f} {kept_texts / 1e6:9.2f} "
          f"{page_read * 1e3:9.2f} ms {text_read * 1e6:9.1f} us")


if __name__ == "__main__":
    main()
