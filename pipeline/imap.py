"""Newsletters' IMAP folders: the one other way Redline reaches the network besides fetch.py (HTTP),
through the same address guard. A folder is examined read-only and bodies are peeked: nothing is
marked, moved or deleted."""

from __future__ import annotations

import imaplib
import ipaddress
import re
import socket
import ssl
from contextlib import suppress
from urllib.parse import unquote, urlsplit

from pipeline.config import NetworkSettings
from pipeline.errors import FetchError
from pipeline.fetch import resolve_address


def read_imap(url: str, user: str, password: str, network: NetworkSettings, after_uid: int = 0,
              uidvalidity: int | None = None, max_bytes: int = 10_000_000
              ) -> tuple[int, list[tuple[int, bytes | None, str | None]]]:
    """(UIDVALIDITY, [(uid, raw message, why skipped)]) of the messages in the folder of an
    imaps://HOST[:PORT]/FOLDER URL (imap:// with STARTTLS, or plain to a loopback address only)
    that came after after_uid; all of them when the folder's UIDVALIDITY is not uidvalidity.
    The folder is examined read-only and bodies are peeked: nothing is marked, moved or deleted.
    FetchError names the mailbox (never the credentials) when it cannot be read."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (993 if parts.scheme == "imaps" else 143)
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    where = f"{parts.scheme}://{host}:{port}/{folder}"
    resolve_address(host, port, network)  # the same address guard as every HTTP request
    try:
        client = _imap_connect(parts.scheme, host, port, network)
        try:
            client.login(user, password)
            status, _ = client.select(_quote_folder(folder), readonly=True)
            if status != "OK":
                raise FetchError(where, "no such folder")
            validity = int(client.response("UIDVALIDITY")[1][0])
            start = after_uid + 1 if validity == uidvalidity else 1
            status, data = client.uid("SEARCH", None, f"UID {start}:*")
            uids = [int(uid) for uid in (data[0] or b"").split() if int(uid) >= start]
            return validity, [_imap_message(client, uid, max_bytes) for uid in uids]
        finally:
            with suppress(Exception):
                client.logout()
    except imaplib.IMAP4.error as exc:
        raise FetchError(where, f"the IMAP server said no ({exc})") from None
    except (OSError, ssl.SSLError) as exc:
        raise FetchError(where, f"cannot be reached ({type(exc).__name__}: {exc})") from None


def _imap_connect(scheme: str, host: str, port: int, network: NetworkSettings) -> imaplib.IMAP4:
    timeout = network.connect_timeout + network.read_timeout
    if scheme == "imaps":
        return imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=timeout)
    client = imaplib.IMAP4(host, port, timeout=timeout)
    if "STARTTLS" in client.capabilities:
        client.starttls(ssl.create_default_context())
    elif not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        client.shutdown()
        raise FetchError(f"imap://{host}:{port}", "offers no STARTTLS: credentials travel in clear text only to "
                                                  "127.0.0.1 (use imaps://)")
    return client


def _quote_folder(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_message(client: imaplib.IMAP4, uid: int, max_bytes: int) -> tuple[int, bytes | None, str | None]:
    _, data = client.uid("FETCH", str(uid), "(RFC822.SIZE)")
    size = re.search(rb"RFC822\.SIZE (\d+)", data[0] or b"")
    if size and int(size.group(1)) > max_bytes:
        return uid, None, f"{int(size.group(1)):,} bytes: larger than {max_bytes:,}, skipped"
    _, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    raw = next((item[1] for item in data if isinstance(item, tuple)), None)
    return uid, raw, None if raw is not None else "the server sent no body"
