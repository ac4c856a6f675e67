"""Tests for pipeline/fetch.py against real HTTP servers on 127.0.0.1 (never any other address)."""

from __future__ import annotations

import codecs
import gzip
import socket
import threading
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from urllib.parse import urlsplit

import pytest

from pipeline.config import NetworkSettings
from pipeline.errors import BlockedAddressError, FetchError
from pipeline.fetch import decode_body, fetch_url, open_client, parse_retry_after, resolve_address

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
PAGE = b"<html><body><p>The toll is 12.</p></body></html>"


# Servers ----------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    """Base handler: records each request on the server and answers with respond()."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.requests.append((self.path, dict(self.headers)))
        self.respond()

    def respond(self):
        self.send(200, PAGE)

    def send(self, status, body=b"", **headers):
        self.start(status, Content_Length=str(len(body)), **headers)
        self.wfile.write(body)

    def start(self, status, **headers):
        """The status line and headers (_ for - in names); the body is the caller's."""
        self.send_response(status)
        headers.setdefault("Content-Type", "text/html; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def log_message(self, format, *args):  # keep test output quiet
        pass


class ETagHandler(Handler):
    def respond(self):
        if self.headers.get("If-None-Match") == '"v1"':
            self.send(304, ETag='"v1"')
        else:
            self.send(200, PAGE, ETag='"v1"', Last_Modified="Sun, 01 Nov 2026 08:00:00 GMT")


class HopHandler(Handler):
    """/hop/N redirects to /hop/N-1 (alternating relative and absolute Locations); /hop/0 is the page."""

    def respond(self):
        left = int(self.path.rsplit("/", 1)[1])
        if left == 0:
            self.send(200, PAGE)
        elif left % 2:
            self.send(302, Location=f"/hop/{left - 1}")
        else:
            host, port = self.server.server_address[:2]
            self.send(301, Location=f"http://{host}:{port}/hop/{left - 1}")


class LoopHandler(Handler):
    def respond(self):
        self.send(302, Location=self.path)


class FtpRedirectHandler(Handler):
    def respond(self):
        self.send(302, Location="ftp://files.example.org/story.txt")


class BigHandler(Handler):
    def respond(self):
        size = int(self.path.strip("/") or 5000)
        self.send(200, b"x" * size)


class GzipBombHandler(Handler):
    BODY = gzip.compress(b"\0" * 100_000)

    def respond(self):
        self.send(200, self.BODY, Content_Encoding="gzip")


class StallHandler(Handler):
    """Sends nothing for up to 2 s (less if the test is over), then the page."""

    def respond(self):
        self.server.stop.wait(2)
        try:
            self.send(200, PAGE)
        except OSError:
            pass  # the client has given up


class NotFoundHandler(Handler):
    def respond(self):
        self.send(404, b"<h1>Not found</h1>")


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-body (the cap, a timeout) is what these tests provoke


class Server:
    def __init__(self, handler):
        self.httpd = QuietServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []
        self.httpd.stop = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[tuple[str, dict]]:
        return self.httpd.requests

    def close(self):
        self.httpd.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    """serve(HandlerClass) starts a server on 127.0.0.1:<free port> for the test."""
    servers = []

    def start(handler) -> Server:
        servers.append(Server(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def network(make_settings):
    """Loopback allowed, otherwise the defaults; network(**overrides) for others."""
    def build(**overrides) -> NetworkSettings:
        return make_settings(network={"allow_private": True, **overrides}).network
    return build


def get(url, network: NetworkSettings, **validators):
    with open_client(network) as client:
        return fetch_url(client, url, network, NOW, **validators)


# Successful fetches -----------------------------------------------------------------------

def test_plain_200(serve, network):
    server = serve(Handler)
    result = get(server.url + "/story", network())
    assert result.ok
    assert (result.status, result.body, result.error) == (200, PAGE, None)
    assert result.url == result.final_url == server.url + "/story"
    assert result.content_type == "text/html; charset=utf-8"
    assert result.at == NOW


def test_user_agent_names_redline(serve, network):
    server = serve(Handler)
    get(server.url + "/", network())
    (_, headers), = server.requests
    assert "Redline" in headers["User-Agent"]


def test_etag_then_304(serve, network):
    server = serve(ETagHandler)
    first = get(server.url + "/story", network())
    assert (first.status, first.etag, first.body) == (200, '"v1"', PAGE)
    assert first.last_modified == "Sun, 01 Nov 2026 08:00:00 GMT"

    second = get(server.url + "/story", network(), etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified
    assert (second.status, second.body, second.error) == (304, b"", None)
    sent = server.requests[1][1]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Sun, 01 Nov 2026 08:00:00 GMT"
    assert "If-None-Match" not in server.requests[0][1]


# Redirects --------------------------------------------------------------------------------

def test_redirect_chain_is_followed(serve, network):
    server = serve(HopHandler)
    result = get(server.url + "/hop/3", network())
    assert result.ok
    assert result.body == PAGE
    assert result.url == server.url + "/hop/3"
    assert result.final_url == server.url + "/hop/0"
    assert [path for path, _ in server.requests] == ["/hop/3", "/hop/2", "/hop/1", "/hop/0"]


def test_exactly_max_redirects_is_allowed(serve, network):
    server = serve(HopHandler)
    assert get(server.url + "/hop/2", network(max_redirects=2)).ok
    too_many = get(server.url + "/hop/3", network(max_redirects=2))
    assert "max_redirects" in too_many.error
    assert not too_many.ok


def test_redirect_loop_stops(serve, network):
    server = serve(LoopHandler)
    result = get(server.url + "/loop", network(max_redirects=4))
    assert not result.ok
    assert "max_redirects" in result.error
    assert result.body == b""
    assert len(server.requests) == 5  # the first request and 4 followed redirects


def test_redirect_to_a_non_http_url_is_refused(serve, network):
    server = serve(FtpRedirectHandler)
    result = get(server.url + "/story", network())
    assert not result.ok
    assert result.final_url == "ftp://files.example.org/story.txt"
    assert "http or https" in result.error


# Limits -----------------------------------------------------------------------------------

def test_body_larger_than_max_bytes(serve, network):
    server = serve(BigHandler)
    result = get(server.url + "/5000", network(max_bytes=1000))
    assert not result.ok
    assert "max_bytes" in result.error
    assert result.body == b""


def test_body_of_exactly_max_bytes_is_kept(serve, network):
    server = serve(BigHandler)
    result = get(server.url + "/1000", network(max_bytes=1000))
    assert result.ok
    assert len(result.body) == 1000


def test_gzip_body_is_capped_by_its_decompressed_size(serve, network):
    assert len(GzipBombHandler.BODY) < 1000  # small on the wire...
    server = serve(GzipBombHandler)
    result = get(server.url + "/bomb", network(max_bytes=1000))
    assert not result.ok  # ...but 100 kB once inflated
    assert "max_bytes" in result.error


def test_gzip_body_is_decoded(serve, network):
    server = serve(GzipBombHandler)
    result = get(server.url + "/bomb", network(max_bytes=200_000))
    assert result.ok
    assert result.body == b"\0" * 100_000


def test_stalled_server_times_out(serve, network):
    server = serve(StallHandler)
    result = get(server.url + "/slow", network(read_timeout=0.5))
    assert not result.ok
    assert "timed out" in result.error
    assert result.status is None


# Failures ---------------------------------------------------------------------------------

def test_connection_refused(network):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but not listening: connecting is refused
        port = sock.getsockname()[1]
        result = get(f"http://127.0.0.1:{port}/story", network())
    assert result.status is None
    assert result.error
    assert f"127.0.0.1:{port}" in result.error
    assert not result.ok


def test_404(serve, network):
    server = serve(NotFoundHandler)
    result = get(server.url + "/gone", network())
    assert result.status == 404
    assert result.error == "HTTP 404"
    assert not result.ok


@pytest.mark.parametrize("url", ["ftp://files.example.org/story.txt", "file:///etc/passwd", "http:///no-host"])
def test_non_http_url_is_an_error(network, url):
    result = get(url, network())
    assert result.status is None
    assert "http or https" in result.error


# Address policy (no traffic leaves 127.0.0.0/8) -------------------------------------------

def check_address(url: str, network: NetworkSettings) -> None:
    """What the guard does for each connection: resolve the URL's host and refuse forbidden addresses."""
    parts = urlsplit(url)
    resolve_address(parts.hostname, parts.port or 80, network)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1]/",
])
def test_check_address_blocks_non_public_addresses(url):
    with pytest.raises(BlockedAddressError, match="allow_private"):
        check_address(url, NetworkSettings())


def test_check_address_allows_loopback_when_private_is_allowed():
    check_address("http://127.0.0.1:1/", NetworkSettings(allow_private=True))


def test_blocked_fetch_sends_nothing_and_names_the_address(serve):
    server = serve(Handler)
    result = get(server.url + "/story", NetworkSettings())
    assert result.status is None
    assert "127.0.0.1" in result.error
    assert "allow_private" in result.error
    assert server.requests == []


# Bounded bodies and odd encodings ---------------------------------------------------------

class EndlessHandler(Handler):
    """A chunked body that never ends (until the client hangs up)."""

    def respond(self):
        self.start(200, Transfer_Encoding="chunked")
        chunk = b"<p>" + b"more " * 2000 + b"</p>"
        try:
            while not self.server.stop.is_set():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the client stopped reading: that is the point


class TrickleHandler(Handler):
    """Headers at once, then one byte every 0.1 s: never idle long enough for a read timeout."""

    def respond(self):
        self.start(200, Content_Length="1000")
        try:
            for _ in range(1000):
                if self.server.stop.wait(0.1):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            pass


class EncodedHandler(Handler):
    """/gzip, /zlib, /raw-deflate, /br: the page in that Content-Encoding."""

    def respond(self):
        coding = self.path.strip("/")
        if coding == "gzip":
            body = gzip.compress(PAGE)
        elif coding == "zlib":
            coding, body = "deflate", zlib.compress(PAGE)
        elif coding == "raw-deflate":
            packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            coding, body = "deflate", packer.compress(PAGE) + packer.flush()
        else:
            body = b"\x8b\x02\x80not really brotli"
        self.send(200, body, Content_Encoding=coding)


class BombInOneChunkHandler(Handler):
    """64 MiB of zeros gzipped to about 64 KB, sent as one piece."""

    BODY = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)

    def respond(self):
        self.send(200, self.BODY, Content_Encoding="gzip")


class LyingLengthHandler(Handler):
    def respond(self):
        self.start(200, Content_Length="50000000")
        self.wfile.write(PAGE)


class PictureHandler(Handler):
    def respond(self):
        self.send(200, b"\x89PNG" + b"\0" * 5000, **{"Content-Type": "image/png"})


class ThrottleHandler(Handler):
    """/429 asks to wait 120 s; /503-date asks to wait until a date; /503 gives no hint."""

    def respond(self):
        if self.path == "/429":
            self.send(429, b"slow down", Retry_After="120")
        elif self.path == "/503-date":
            self.send(503, b"maintenance", Retry_After="Sun, 01 Nov 2026 00:10:00 GMT")
        else:
            self.send(503, b"down")


def test_endless_body_is_cut_at_the_cap(serve, network):
    server = serve(EndlessHandler)
    result = get(server.url + "/endless", network(max_bytes=100_000))
    assert not result.ok
    assert "max_bytes (100000 bytes)" in result.error
    assert result.body == b"" and result.status == 200


def test_a_trickling_server_hits_the_total_timeout(serve, network):
    server = serve(TrickleHandler)
    result = get(server.url + "/slow", network(read_timeout=5, total_timeout=0.5))
    assert not result.ok
    assert "total_timeout" in result.error and result.body == b""


@pytest.mark.parametrize("coding", ["gzip", "zlib", "raw-deflate"])
def test_compressed_bodies_are_decoded(serve, network, coding):
    server = serve(EncodedHandler)
    result = get(server.url + f"/{coding}", network())
    assert result.ok and result.body == PAGE


@pytest.mark.parametrize("handler, path, error", [
    (EncodedHandler, "/br", "unsupported Content-Encoding 'br'"),  # we never ask for brotli
    (BombInOneChunkHandler, "/bomb", "max_bytes (1000000 bytes) once decompressed"),
    (LyingLengthHandler, "/big", "50000000 bytes is larger than network.max_bytes"),  # refused unread
])
def test_bodies_that_are_refused(serve, network, handler, path, error):
    result = get(serve(handler).url + path, network(max_bytes=1_000_000))
    assert not result.ok and result.body == b""
    assert error in result.error


def test_bounded_decoder_hands_out_at_most_the_cap():
    from pipeline.fetch import _Decoder

    decoder = _Decoder("gzip", "http://x.example/bomb", 1000)
    with pytest.raises(FetchError, match="max_bytes"):
        decoder.feed(gzip.compress(b"\0" * 10_000_000))
    assert decoder.size == 1001  # inflated one byte past the cap, not ten million




def test_binary_content_types_are_refused_before_the_body(serve, network):
    server = serve(PictureHandler)
    result = get(server.url + "/photo", network())
    assert not result.ok and result.status == 200
    assert "'image/png'" in result.error and result.body == b""
    with open_client(network()) as client:
        assert fetch_url(client, server.url + "/photo", network(), NOW, refuse=()).ok


def test_read_body_false_learns_where_a_link_leads_without_its_page(serve, network):
    server = serve(HopHandler)
    with open_client(network()) as client:
        result = fetch_url(client, server.url + "/hop/2", network(), NOW, read_body=False)
    assert result.ok and result.final_url == server.url + "/hop/0" and result.body == b""


# Throttling hints --------------------------------------------------------------------------

def test_429_carries_retry_after_seconds(serve, network):
    server = serve(ThrottleHandler)
    result = get(server.url + "/429", network())
    assert (result.status, result.error, result.retry_after) == (429, "HTTP 429", 120.0)


def test_503_retry_after_as_a_date(serve, network):
    server = serve(ThrottleHandler)
    assert get(server.url + "/503-date", network()).retry_after == 600.0  # NOW is midnight
    assert get(server.url + "/503", network()).retry_after is None


@pytest.mark.parametrize("value, seconds", [
    ("120", 120.0), (" 7 ", 7.0), ("Sun, 01 Nov 2026 00:01:00 GMT", 60.0),
    ("Sat, 31 Oct 2026 23:00:00 GMT", 0.0), ("soon", None), ("", None), (None, None), ("-5", None),
])
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


# Charsets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("body, content_type, text", [
    ("Zürich".encode("utf-8"), "text/html", "Zürich"),
    ("Zürich".encode("latin-1"), "text/html; charset=ISO-8859-1", "Zürich"),
    ("“Zürich”".encode("cp1252"), "text/html; charset=iso-8859-1", "“Zürich”"),  # read as browsers do
    (b'<meta charset="windows-1251">' + "Москва".encode("cp1251"), "text/html", '<meta charset="windows-1251">Москва'),
    (b'<?xml version="1.0" encoding="koi8-r"?>' + "Москва".encode("koi8-r"), None,
     '<?xml version="1.0" encoding="koi8-r"?>Москва'),
    (codecs.BOM_UTF8 + "Zürich".encode("utf-8"), "text/html; charset=latin-1", "Zürich"),  # the BOM wins
    ("Zürich".encode("utf-8"), "text/html; charset=no-such-charset", "Zürich"),
])
def test_decode_body(body, content_type, text):
    assert decode_body(body, content_type) == text


def test_decode_body_detects_an_undeclared_charset():
    text = "Привет, как дела? Это длинный текст на русском языке, чтобы детектор был уверен. " * 5
    assert decode_body(text.encode("cp1251")) == text


# No traffic leaves 127.0.0.0/8, and redirects cannot lead inward --------------------------

class RedirectHandler(Handler):
    """Redirects to the URL in the path after /to/."""

    def respond(self):
        self.send(302, Location=self.path.split("/to/", 1)[1])


def allowing(server) -> NetworkSettings:
    """Private addresses refused, except the first server's own host and port (as an intranet feed would be)."""
    host, port = server.httpd.server_address[:2]
    return NetworkSettings(allow_private=False, allow_hosts=((host, port),))


def test_allow_hosts_lets_one_private_host_in(serve):
    server = serve(Handler)
    assert get(server.url + "/story", allowing(server)).ok
    other = serve(Handler)
    assert "allow_hosts" in get(other.url + "/story", allowing(server)).error
    assert other.requests == []


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/secret", "http://localhost:{port}/secret",
                                    "http://[::ffff:127.0.0.1]:{port}/secret"])
def test_a_redirect_to_a_private_address_is_blocked(serve, target):
    entry, inside = serve(RedirectHandler), serve(Handler)
    target = target.format(port=inside.httpd.server_address[1])
    result = get(f"{entry.url}/to/{target}", allowing(entry))
    assert not result.ok and result.status == 302
    assert result.final_url == target
    assert "allow_private" in result.error
    assert inside.requests == []  # the hop was refused before any connection


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                                    "http://[fd00:ec2::254]/", "http://[64:ff9b::a00:1]/"])
def test_a_redirect_to_metadata_or_private_ranges_is_blocked_before_connecting(serve, target):
    entry = serve(RedirectHandler)
    result = get(f"{entry.url}/to/{target}", allowing(entry))
    assert "allow_private" in result.error and result.final_url == target


@pytest.mark.parametrize("url, reason", [
    ("http://169.254.169.254/", "cloud metadata"), ("http://[::ffff:10.1.2.3]/", "private"),
    ("http://[2002:7f00:1::]/", "loopback"), ("http://[64:ff9b::7f00:1]/", "loopback"),
    ("http://100.64.0.1/", "not globally routable"), ("http://224.0.0.1/", "multicast"),
])
def test_refusals_name_the_kind_of_address(url, reason):
    with pytest.raises(BlockedAddressError, match=reason):
        check_address(url, NetworkSettings())


def test_connections_go_to_the_address_that_was_checked(serve, monkeypatch):
    """DNS rebinding: a name that answers 127.0.0.1 when checked and 127.0.0.2 (where nothing
    listens) afterwards. The guard resolves once per connection and connects to that answer."""
    server = serve(Handler)
    port = server.httpd.server_address[1]
    real, answers = socket.getaddrinfo, iter(["127.0.0.1"])

    def rebinding(host, *args, **kwargs):
        if host != "rebinding.test":
            return real(host, *args, **kwargs)
        return real(next(answers, "127.0.0.2"), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    network = NetworkSettings(allow_private=False, allow_hosts=(("rebinding.test", port),))
    result = get(f"http://rebinding.test:{port}/story", network)
    assert result.ok and result.body == PAGE
    assert next(answers, None) is None  # the name was resolved exactly once


# Hostile URLs fail alone -------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://xn--a.com/story", "http://[::1/broken", "http://x.example:99999/"])
def test_a_url_no_server_could_have_is_an_error_in_the_result(network, url):
    result = get(url, network())
    assert result.status is None and result.error and not result.ok


def test_a_redirect_to_a_malformed_idna_host_is_an_error_in_the_result(network, site):
    site.redirect("/r", "http://xn--a.com/story")
    result = get(site.url + "/r", network())
    assert result.error and result.status in (None, 301) and not result.ok
