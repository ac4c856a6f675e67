"""The bare floor of bench_replay: what any change tracker must do per article, with nothing else.

For each URL: a conditional GET, `trafilatura.extract` of a page that changed, a word diff against the
last text, and the text stored in a bare SQLite table. Run as its own process by bench_replay, it imports
only what it uses (httpx, trafilatura, diff-match-patch, sqlite3), as a scheduler's one-off process would.

Usage: python -m benchmarks.floor URLS_FILE ARCHIVE
"""

import sqlite3
import sys
from pathlib import Path

import httpx
import trafilatura
from diff_match_patch import diff_match_patch


def word_diff(old: str, new: str) -> list:
    """diff-match-patch over words, each word one character."""
    codes: dict[str, str] = {}

    def encode(text: str) -> str:
        return "".join(codes.setdefault(word, chr(len(codes) + 1)) for word in text.split())

    return diff_match_patch().diff_main(encode(old), encode(new), False)


def check_all(urls_file: str, archive: str) -> None:
    db = sqlite3.connect(archive)
    db.execute("CREATE TABLE IF NOT EXISTS versions (url TEXT, number INTEGER, etag TEXT, text TEXT, "
               "PRIMARY KEY (url, number))")
    with httpx.Client() as client:
        for url in Path(urls_file).read_text().split():
            last = db.execute("SELECT number, etag, text FROM versions WHERE url = ? ORDER BY number DESC LIMIT 1",
                              [url]).fetchone()
            response = client.get(url, headers={"If-None-Match": last[1]} if last else {})
            if response.status_code == 304:
                continue
            text = trafilatura.extract(response.content, url=url) or ""
            if last and text == last[2]:
                continue
            if last:
                word_diff(last[2], text)
            db.execute("INSERT INTO versions VALUES (?, ?, ?, ?)",
                       [url, last[0] + 1 if last else 1, response.headers.get("ETag"), text])
    db.commit()


if __name__ == "__main__":
    check_all(*sys.argv[1:3])
