"""The only module that touches the network: polite, conditional, bounded GETs."""

from __future__ import annotations

import ipaddress
import socket
import time
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import httpx

from pipeline.config import NetworkSettings
from pipeline.errors import BlockedAddressError, FetchError
from pipeline.models import Fetched

_REDIRECTS = {301, 302, 303, 307, 308}


def open_client(network: NetworkSettings) -> httpx.Client:
    """An HTTP client with Redline's timeouts and User-Agent; redirects are followed by hand."""
    timeout = httpx.Timeout(network.read_timeout, connect=network.connect_timeout)
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": network.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


def check_address(url: str, network: NetworkSettings) -> None:
    """Raise BlockedAddressError if url's host resolves to a forbidden address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(url, "expected an http or https URL with a host")
    if network.allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(url, f"cannot resolve host {parts.hostname!r} ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise BlockedAddressError(
                url, f"host {parts.hostname!r} resolves to non-public address {address} "
                "(set network.allow_private = true to allow it)"
            )


def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    # Decoded bytes are counted, so a small compressed body cannot inflate past the cap.
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(url, f"body larger than network.max_bytes ({max_bytes} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_url(
    client: httpx.Client,
    url: str,
    network: NetworkSettings,
    now: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """GET url conditionally; never raises for network trouble: the error is in the result."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    current, status = url, None
    try:
        for _ in range(network.max_redirects + 1):
            check_address(current, network)
            with client.stream("GET", current, headers=headers) as response:
                status = response.status_code
                if status in _REDIRECTS and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    headers = {}  # validators belong to the first URL, not to where it redirects
                    continue
                body = b"" if status == 304 else _read_capped(response, current, network.max_bytes)
                return Fetched(
                    url=url,
                    final_url=current,
                    status=status,
                    at=now,
                    elapsed_ms=_elapsed_ms(started),
                    body=body,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    content_type=response.headers.get("content-type"),
                    error=None if status < 400 or status == 304 else f"HTTP {status}",
                )
        raise FetchError(url, f"more than network.max_redirects ({network.max_redirects}) redirects")
    except FetchError as exc:
        error = str(exc)
    except httpx.TimeoutException as exc:
        error = f"{current}: timed out ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        error = f"{current}: {type(exc).__name__}: {exc}"
    return Fetched(url=url, final_url=current, status=status, at=now,
                   elapsed_ms=_elapsed_ms(started), error=error)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
