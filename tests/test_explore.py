"""make explore: Datasette over an archive with Redline's descriptions and canned queries."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

import storage
from conftest import ROOT

METADATA = ROOT / "pipeline" / "web" / "datasette.yml"
PLUGINS = ROOT / "pipeline" / "web" / "datasette_plugins"  # as make explore passes them


def test_every_described_table_and_column_exists(db):
    database = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["redline"]
    for table, described in database["tables"].items():
        assert db[table].exists(), table
        columns = {column.name for column in db[table].columns}
        assert set(described.get("columns", {})) <= columns, (table, set(described.get("columns", {})) - columns)


@pytest.fixture
def datasette(archive, tmp_path):
    settings, _ = archive
    copy = tmp_path / "redline.db"  # the name the metadata is written for
    storage.backup(storage.open_archive(settings, create=False), copy)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([str(Path(sys.executable).with_name("datasette")), "serve", str(copy), "--metadata",
                                str(METADATA), "--plugins-dir", str(PLUGINS), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/-/versions.json", timeout=2)
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(process.stderr.read().decode()[-2000:])
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(10)


@pytest.mark.skipif(not shutil.which("datasette", path=str(Path(sys.executable).parent)), reason="datasette not installed")
def test_datasette_serves_the_archive_with_the_canned_queries(datasette):
    figures = httpx.get(f"{datasette}/redline/latest_figure_changes.json?_shape=array").json()
    assert figures and all(row["subject"] is not None or row["after"] for row in figures)
    assert any(row["subject"] == "people killed" for row in figures)
    edited = httpx.get(f"{datasette}/redline/most_edited_stories.json?_shape=array").json()
    assert edited[0]["versions"] >= edited[-1]["versions"] and edited[0]["versions"] == 3
    assert httpx.get(f"{datasette}/redline/stealth_edits.json?_shape=array").status_code == 200
    table = httpx.get(f"{datasette}/redline/version_texts").text
    assert "Every distinct text of every story" in table
    texts = httpx.get(f"{datasette}/redline/version_texts.json?_shape=array&_sort=id").json()
    assert texts and all(isinstance(row["text"], str) and row["text"] for row in texts)
    found = httpx.get(f"{datasette}/redline/version_texts.json?_shape=array&_search=killed").json()
    assert found and all("killed" in row["text"].lower() for row in found)
