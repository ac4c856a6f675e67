"""Tests for pipeline/fetch.py against real HTTP servers on 127.0.0.1 (never any other address)."""

from __future__ import annotations

import gzip
import socket
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.config import NetworkSettings
from pipeline.errors import BlockedAddressError, FetchError
from pipeline.fetch import check_address, fetch_url, open_client

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
        self.send_response(status)
        headers.setdefault("Content-Type", "text/html; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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


class Server:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
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
    with pytest.raises(FetchError):
        check_address(url, network())


# Address policy (no traffic leaves 127.0.0.0/8) -------------------------------------------

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
