"""The only module that touches the network: conditional, bounded GETs that cannot be turned inward.

Every connection goes through GuardedBackend, which resolves the host once, refuses
forbidden addresses and then connects to the very address it checked, so there is no
second lookup for a DNS rebinding to slip into. Redirects are followed by hand and each
hop opens (or reuses) a connection checked the same way. Bodies are read raw and
decompressed here, a bounded piece at a time, so no compressed bomb can inflate past
network.max_bytes in memory.
"""

from __future__ import annotations

import codecs
import functools
import ipaddress
import logging
import re
import socket
import time
import zlib
from contextlib import contextmanager
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Iterator
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import httpcore
import httpx

from pipeline.config import NetworkSettings
from pipeline.errors import BlockedAddressError, FetchError
from pipeline.masking import RewritingFilter, install_filter, mask_text, mask_url
from pipeline.models import Fetched

log = logging.getLogger(__name__)
_REDIRECTS = {301, 302, 303, 307, 308}
THROTTLED = (429, 503)
# Declared types that are never an article, a feed or a sitemap: refused before the body is read.
BINARY_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip",
                "application/msword", "application/vnd.", "application/x-shockwave-flash")
# Gzipped sitemaps are often served as archives; articles never are.
ARCHIVE_TYPES = ("application/gzip", "application/x-gzip")
# Well-known cloud metadata services, named in the refusal so an operator sees what was attempted.
_METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)"""
                      rb"""|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# WHATWG encoding labels: browsers read these as windows-1252, and so must we to see what readers see.
_WINDOWS_1252 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii", "windows-1252", "cp1252"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


# Address policy --------------------------------------------------------------------------

def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # ::ffff:10.0.0.1, 64:ff9b::10.0.0.1 (NAT64) and 2002:0a00:0001:: (6to4) all reach 10.0.0.1.
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def forbidden_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address may not be reached without network.allow_private, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and forbidden_reason(inner):
            return f"{forbidden_reason(inner)} (embedded in {address})"
    if address in _METADATA:
        return "a cloud metadata service"
    for reason, test in (("loopback", "is_loopback"), ("link-local", "is_link_local"),
                         ("unspecified", "is_unspecified"), ("multicast", "is_multicast"),
                         ("private", "is_private"), ("reserved", "is_reserved")):
        if getattr(address, test):
            return reason
    return None if address.is_global else "not globally routable"


def host_is_allowed(host: str, port: int, network: NetworkSettings) -> bool:
    """Whether host:port may be reached at any address: allow_private, or named in allow_hosts."""
    host = host.strip("[]").lower()
    return network.allow_private or any(
        host == allowed and (allowed_port is None or allowed_port == port)
        for allowed, allowed_port in network.allow_hosts
    )


def resolve_address(host: str, port: int, network: NetworkSettings) -> list[str]:
    """The addresses host:port resolves to, in order; BlockedAddressError if the policy forbids any."""
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(where, f"cannot resolve host {host!r} ({exc})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not host_is_allowed(host, port, network):
        for address in addresses:
            reason = forbidden_reason(ipaddress.ip_address(address.split("%", 1)[0]))
            if reason:
                raise BlockedAddressError(
                    where, f"host {host!r} resolves to {address}, {reason} "
                    "(set network.allow_private = true, or list the host in network.allow_hosts, to allow it)")
    return addresses


def _require_http(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # a broken IPv6 literal or port
        raise FetchError(url, f"not a readable URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise FetchError(url, "expected an http or https URL with a host")
    try:
        host.encode("idna").decode("idna")  # "xn--a.com" is not a name any resolver or server knows
    except UnicodeError as exc:
        raise FetchError(url, f"host {host!r} is not a valid domain name ({exc})") from None


class GuardedBackend(httpcore.SyncBackend):
    """Opens TCP connections only to addresses the policy allows, connecting to the address it checked."""

    def __init__(self, network: NetworkSettings):
        self.network = network

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        failure: Exception | None = None
        for address in resolve_address(host, port, self.network):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the host's next (already checked) address
                failure = exc
        raise failure or httpcore.ConnectError(f"no address to connect to for {host}")


# httpcore's exceptions as httpx's, most specific first.
_ERRORS = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException), (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError), (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError), (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol), (httpcore.NetworkError, httpx.NetworkError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
            httpcore.UnsupportedProtocol) as exc:
        for source, target in _ERRORS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class _RawStream(httpx.SyncByteStream):
    def __init__(self, stream):
        self._stream = stream

    def __iter__(self):
        with _as_httpx_errors():
            yield from self._stream

    def close(self):
        self._stream.close()


@functools.cache
def _ssl_context():
    # Loading the CA bundle costs about 20 ms: once per process, not once per client.
    return httpx.create_ssl_context()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool whose every connection passes GuardedBackend."""

    def __init__(self, network: NetworkSettings):
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(), max_connections=network.max_connections,
            keepalive_expiry=30.0, network_backend=GuardedBackend(network),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_RawStream(response.stream), extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


class _MaskURLs(RewritingFilter):
    """httpx and httpcore log every request's URL: credentials in it are masked first."""

    def rewrite(self, text: str) -> str:
        return mask_text(text)


_MASK_URLS = _MaskURLs()


def open_client(network: NetworkSettings) -> httpx.Client:
    """An HTTP client with Redline's timeouts, User-Agent and address guard; redirects are followed by hand."""
    install_filter(_MASK_URLS, ("httpx", "httpcore.connection", "httpcore.http11"))
    return httpx.Client(
        transport=GuardedTransport(network),
        timeout=httpx.Timeout(network.read_timeout, connect=network.connect_timeout),
        follow_redirects=False,
        trust_env=False,  # a proxy from the environment would bypass the address guard
        headers={"User-Agent": network.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


# Bodies ----------------------------------------------------------------------------------

class _Decoder:
    """Undoes Content-Encoding a bounded piece at a time, counting decoded bytes against the cap."""

    def __init__(self, encoding: str | None, url: str, max_bytes: int):
        codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip().lower() not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r} (expected gzip, deflate or none)")
        self.coding = codings[0] if codings else None
        self.url, self.max_bytes, self.size = url, max_bytes, 0
        self._inflater = None

    def feed(self, chunk: bytes) -> bytes:
        if self.coding is None:
            return self._count(chunk)
        out = []
        try:
            while chunk:
                if self._inflater is None:
                    self._inflater = self._start(chunk)
                out.append(self._count(self._inflater.decompress(chunk, self.max_bytes - self.size + 1)))
                chunk = self._inflater.unused_data  # the next gzip member, if the body has several
                if chunk:
                    self._inflater = None
        except zlib.error as exc:
            raise FetchError(self.url, f"corrupt {self.coding} body ({exc})") from None
        return b"".join(out)

    def _start(self, chunk: bytes):
        if self.coding == "deflate" and (chunk[0] & 0x0F) != 8:
            return zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send it
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.coding != "deflate" else zlib.MAX_WBITS)

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.max_bytes:
            raise FetchError(self.url, f"body larger than network.max_bytes ({self.max_bytes} bytes)"
                                       + (" once decompressed" if self.coding else ""))
        return piece


def _read_capped(response: httpx.Response, url: str, network: NetworkSettings, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and not response.headers.get("content-encoding") and int(declared) > network.max_bytes:
        raise FetchError(url, f"body of {declared} bytes is larger than network.max_bytes ({network.max_bytes} bytes)")
    decoder = _Decoder(response.headers.get("content-encoding"), url, network.max_bytes)
    chunks = []
    for chunk in response.iter_raw():  # pieces as they arrive: a chunk size would wait to fill it
        chunks.append(decoder.feed(chunk))
        if time.monotonic() > deadline:  # a server that trickles bytes never trips the read timeout
            raise FetchError(url, f"timed out: no complete response within network.total_timeout "
                                  f"({network.total_timeout:g} s)")
    return b"".join(chunks)


def _refused_type(content_type: str | None, refuse: tuple[str, ...]) -> str | None:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind if kind and kind.startswith(refuse) else None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), or None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max((moment - now).total_seconds(), 0.0)


def declared_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'").lower()
    return None


def decode_body(body: bytes, content_type: str | None = None) -> str:
    """The text of a body: by its BOM, else the HTTP charset, else a <meta> or XML declaration,
    else UTF-8 if it decodes, else what charset detection finds."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, "replace")
    match = _CHARSET.search(body[:4096])
    for label in (declared_charset(content_type), match and (match.group(1) or match.group(2)).decode("ascii")):
        if label:
            codec = "cp1252" if label.lower() in _WINDOWS_1252 else label
            try:
                return body.decode(codec, "replace")
            except LookupError:
                continue  # an unknown label: fall through to detection
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(body[:65536]).best()
        return body.decode(best.encoding if best else "cp1252", "replace")


# Fetching --------------------------------------------------------------------------------

def fetch_url(
    client: httpx.Client,
    url: str,
    network: NetworkSettings,
    now: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
    refuse: tuple[str, ...] = BINARY_TYPES + ARCHIVE_TYPES,
    read_body: bool = True,
) -> Fetched:
    """GET url conditionally; never raises for network trouble: the error is in the result.

    A declared Content-Type starting with one of refuse ends the request before its body is
    read; with read_body false the final response's body is never read (to learn where a
    wrapper URL leads).
    """
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    deadline = started + network.total_timeout
    current, status, blocked = url, None, False
    try:
        for _ in range(network.max_redirects + 1):
            _require_http(current)
            with client.stream("GET", current, headers=headers) as response:
                status = response.status_code
                if status in _REDIRECTS and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    headers = {}  # validators belong to the first URL, not to where it redirects
                    continue
                return _result(response, url, current, network, now, started, deadline, refuse, read_body)
        raise FetchError(url, f"more than network.max_redirects ({network.max_redirects}) redirects")
    except BlockedAddressError as exc:
        error, blocked = f"{current}: {exc.reason}", True
    except FetchError as exc:
        error = str(exc)
    except httpx.TimeoutException as exc:
        error = f"{current}: timed out ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        error = f"{current}: {type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - whatever one hostile URL does to a library, it fails alone
        log.exception("%s: the request failed unexpectedly", mask_url(current))
        error = f"{current}: the request failed ({type(exc).__name__}: {exc})"
    return Fetched(url=url, final_url=current, status=status, at=now,
                   elapsed_ms=_elapsed_ms(started), error=error, blocked=blocked)


def _result(response: httpx.Response, url: str, current: str, network: NetworkSettings, now: datetime,
            started: float, deadline: float, refuse: tuple[str, ...], read_body: bool) -> Fetched:
    status, content_type = response.status_code, response.headers.get("content-type")
    error = None if status < 400 or status == 304 else f"HTTP {status}"
    refused = _refused_type(content_type, refuse) if status < 300 else None
    if refused:
        error = f"{current}: content type {refused!r} is not a page, feed or sitemap"
    body = b""
    if read_body and not error and status != 304:
        body = _read_capped(response, current, network, deadline)
    elif status == 304:
        response.read()  # nothing to read, but it lets the connection go back to the pool
    return Fetched(
        url=url, final_url=current, status=status, at=now, elapsed_ms=_elapsed_ms(started), body=body,
        etag=response.headers.get("etag"), last_modified=response.headers.get("last-modified"),
        content_type=content_type, error=error,
        retry_after=parse_retry_after(response.headers.get("retry-after"), now) if status in THROTTLED else None,
    )


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
