"""Tests for pipeline/masking.py: what is stored and shown of a URL that carries credentials."""

from __future__ import annotations

import pytest

from pipeline.masking import mask_text, mask_url


@pytest.mark.parametrize("url, masked", [
    ("https://reader:s3cret@feeds.example/feed", "https://reader:****@feeds.example/feed"),
    ("https://token@feeds.example/feed", "https://****@feeds.example/feed"),
    ("https://feeds.example/feed?apikey=k3y&page=2", "https://feeds.example/feed?apikey=****&page=2"),
    ("https://feeds.example/feed?access_token=abc&id=7", "https://feeds.example/feed?access_token=****&id=****"),
    ("https://feeds.example/feed?page=2", "https://feeds.example/feed?page=2"),
    ("https://feeds.example/a%20b?q=x", "https://feeds.example/a%20b?q=x"),
    ("http://[::1/broken", "http://[::1/broken"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_mask_text_masks_every_url_in_a_message():
    message = "https://u:pw@a.example/f: HTTP 401 after https://b.example/x?token=t0k"
    assert mask_text(message) == "https://u:****@a.example/f: HTTP 401 after https://b.example/x?token=****"
    assert mask_text(None) is None
