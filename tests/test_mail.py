"""Tests for pipeline/mail.py: newsletter messages into issues and article links. The messages are
written here, one per case: HTML and text parts, encodings, broken parts, trackers of common shapes."""

from __future__ import annotations

import base64
import mailbox
from pathlib import Path
from email.message import EmailMessage

import pytest

from pipeline.errors import FeedError
from pipeline.mail import article_links, needs_following, read_mailbox, read_message, unwrap_tracking

NEWS = "https://news.example.org"
HTML = f"""<html><head><style>p{{color:red}}</style></head><body>
<p><a href="{NEWS}/view/123">View in browser</a></p>
<h1>The Morning Brief</h1>
<p>Floods: <a href="{NEWS}/2026/11/flood-toll?utm_source=newsletter&utm_medium=email">At least 19 killed as river bursts</a></p>
<p>Markets: <a href="https://click.mail.example.net/ls/click?upn=xyz&url={NEWS}%2F2026%2F11%2Fmarkets">Stocks fall</a></p>
<p>Also: <a href="{NEWS}/2026/11/flood-toll">the flood story again</a> and
<a href="https://twitter.com/examplenews">follow us</a> <a href="mailto:desk@example.org">write to us</a></p>
<p><a href="{NEWS}/account/unsubscribe?u=42">Unsubscribe</a> | <a href="{NEWS}/preferences">Update your preferences</a></p>
</body></html>"""


def message(html: str | None = HTML, text: str | None = None, **headers) -> bytes:
    mail = EmailMessage()
    for name, value in {"From": "The Morning Brief <brief@news.example.org>", "To": "reader@example.com",
                        "Subject": "Floods, markets and more", "Message-ID": "<brief-2026-11-01@news.example.org>",
                        "Date": "Sun, 01 Nov 2026 06:00:00 +0000", "List-Id": "<brief.news.example.org>",
                        **headers}.items():
        mail[name] = value
    if text is not None:
        mail.set_content(text)
    if html is not None:
        if text is None:
            mail.set_content(html, subtype="html")
        else:
            mail.add_alternative(html, subtype="html")
    return bytes(mail)


def test_an_issue_carries_its_headers_text_and_story_links_in_order():
    issue = read_message(message())
    assert (issue.message_id, issue.subject, issue.list_id) == (
        "<brief-2026-11-01@news.example.org>", "Floods, markets and more", "<brief.news.example.org>")
    assert issue.sender == "The Morning Brief <brief@news.example.org>"
    assert issue.sent_at == "2026-11-01T06:00:00.000+00:00"
    assert "At least 19 killed" in issue.text and "color:red" not in issue.text
    assert [(link.url, link.position, link.anchor) for link in issue.links] == [
        (f"{NEWS}/2026/11/flood-toll", 0, "At least 19 killed as river bursts"),
        (f"{NEWS}/2026/11/markets", 1, "Stocks fall"),
    ]


def test_a_text_only_message_gives_the_urls_in_its_text():
    issue = read_message(message(html=None, text=f"Today: {NEWS}/2026/11/flood-toll.\nAnd {NEWS}/2026/11/markets"))
    assert [link.url for link in issue.links] == [f"{NEWS}/2026/11/flood-toll", f"{NEWS}/2026/11/markets"]


@pytest.mark.parametrize("encoding", ["quoted-printable", "base64"])
def test_quoted_printable_and_base64_bodies_are_decoded(encoding):
    raw = (f"From: brief@news.example.org\r\nSubject: QP\r\nMessage-ID: <qp@x>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n")
    body = f'<p>Caf\u00e9: <a href="{NEWS}/2026/11/caf%C3%A9-reopens">Caf\u00e9 reopens after the flood</a></p>'
    if encoding == "base64":
        payload = base64.encodebytes(body.encode()).decode()
    else:
        import quopri
        payload = quopri.encodestring(body.encode()).decode()
    issue = read_message((raw + payload).encode())
    assert [link.anchor for link in issue.links] == ["Caf\u00e9 reopens after the flood"]
    assert "Café" in issue.text


def test_a_wrong_or_unknown_charset_is_read_as_well_as_it_can_be():
    raw = (b"From: x@y\r\nSubject: bad\r\nMessage-ID: <cs@x>\r\nContent-Type: text/html; charset=no-such-charset\r\n\r\n"
           b'<p><a href="https://news.example.org/a/story">Story \xe9</a></p>')
    assert [link.url for link in read_message(raw).links] == ["https://news.example.org/a/story"]


def test_broken_mime_and_no_links_give_an_empty_issue_not_an_error():
    raw = b"Subject: =?utf-8?q?broken?=\r\nContent-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n--other\r\n"
    issue = read_message(raw)
    assert issue.links == () and issue.message_id.startswith("<sha256-")


def test_an_attachment_is_no_body():
    mail = EmailMessage()
    mail["Subject"], mail["Message-ID"] = "with attachment", "<att@x>"
    mail.set_content(f"Read {NEWS}/2026/11/flood-toll")
    mail.add_attachment(b"<html><a href='https://evil.example/x/y'>x</a></html>", maintype="text", subtype="html",
                        filename="page.html")
    assert [link.url for link in read_message(bytes(mail)).links] == [f"{NEWS}/2026/11/flood-toll"]


@pytest.mark.parametrize("tracker, target", [
    ("https://click.mail.example.net/ls/click?upn=abc&url=https%3A%2F%2Fnews.example.org%2Fa%2Fb", f"{NEWS}/a/b"),
    ("https://links.example.com/redirect?target=https://news.example.org/a/b&sig=9", f"{NEWS}/a/b"),
    ("https://email.mg.example.com/c/" + base64.urlsafe_b64encode(
        b'{"u":"https://news.example.org/a/b","e":"reader"}').decode().rstrip("="), f"{NEWS}/a/b"),
    ("https://r.example.com/r/" + base64.urlsafe_b64encode(b"https://news.example.org/a/b").decode(), f"{NEWS}/a/b"),
])
def test_trackers_that_carry_their_target_are_unwrapped_without_a_request(tracker, target):
    assert unwrap_tracking(tracker).rstrip("/") == target


def test_a_tracker_that_hides_its_target_is_left_for_the_fetcher_to_follow():
    tracker = "https://acme.us1.list-manage.com/track/click?u=1a2b&id=3c4d&e=5e6f"
    assert unwrap_tracking(tracker) == tracker and needs_following(tracker)
    assert not needs_following(f"{NEWS}/2026/11/flood-toll")


def test_a_headline_that_says_sign_up_is_a_story_a_short_sign_up_label_is_not():
    links = article_links([(f"{NEWS}/a/record", "Record numbers sign up for the winter flood relief scheme"),
                           (f"{NEWS}/a/newsletter", "Sign up")])
    assert [link.url for link in links] == [f"{NEWS}/a/record"]


def test_mailboxes_of_each_kind_are_read_and_a_missing_one_is_a_feed_error(tmp_path):
    raw = message()
    box = mailbox.mbox(tmp_path / "brief.mbox")
    box.add(raw)
    box.flush()
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    maildir.add(raw)
    (tmp_path / "eml").mkdir()
    (tmp_path / "eml" / "one.eml").write_bytes(raw)
    (tmp_path / "eml" / "notes.txt").write_text("not a message")
    for kind, name in (("mbox", "brief.mbox"), ("maildir", "Maildir"), ("eml", "eml")):
        [(key, body, skipped)] = list(read_mailbox(kind, tmp_path / name))
        assert skipped is None and read_message(body).links
    with pytest.raises(FeedError, match="no mbox there"):
        list(read_mailbox("mbox", tmp_path / "absent.mbox"))


def test_a_huge_message_is_skipped_with_the_reason(tmp_path, monkeypatch):
    import pipeline.mail

    monkeypatch.setattr(pipeline.mail, "MAX_MESSAGE_BYTES", 1000)
    big = message(html="<p>" + "x" * 5000 + "</p>")
    (tmp_path / "big.eml").write_bytes(big)
    [(key, body, skipped)] = list(read_mailbox("eml", tmp_path))
    assert body is None and "larger than 1,000" in skipped
    box = mailbox.mbox(tmp_path / "big.mbox")
    box.add(big)
    box.add(message())
    box.flush()
    monkeypatch.setattr(pipeline.mail, "MAX_MESSAGE_BYTES", 3000)
    (_, body, skipped), (_, small, fine) = list(read_mailbox("mbox", tmp_path / "big.mbox"))
    assert body is None and "more than 3,000 bytes" in skipped and small and fine is None


# Newsletters as sources, through a whole run ----------------------------------------------------

def newsletter(site, slugs: list[str], message_id: str, subject: str, **headers) -> bytes:
    links = "".join(f'<p><a href="{site.url}/news/{slug}?utm_source=brief">Story about {slug.replace("-", " ")} '
                    f'and what it means for the town</a></p>' for slug in slugs)
    tracked = f'<p><a href="{site.url}/ls/click?upn=123">Read the council story</a></p>'
    return message(html=f"<html><body><h1>{subject}</h1>{links}{tracked}"
                        f'<p><a href="{site.url}/unsubscribe">Unsubscribe</a></p></body></html>',
                   **{"Message-ID": message_id, "Subject": subject, **headers})


@pytest.fixture
def newsroom_site(site):
    from demo.newsroom import load_stories, render_article

    for story in load_stories():
        page = render_article(story.versions[0], story.slug, site.url)
        site.page(f"/news/{story.slug}", page)
    site.redirect("/ls/click", "/news/council-vote")
    return site


def test_a_newsletter_source_tracks_every_story_its_issues_link(newsroom_site, make_settings, tmp_path):
    from click.testing import CliRunner

    import storage
    from pipeline import cycle
    from pipeline.cli import cli

    site = newsroom_site
    box = mailbox.mbox(tmp_path / "brief.mbox")
    box.add(newsletter(site, ["flood-toll", "bridge-contract"], "<one@brief>", "Monday brief"))
    box.add(newsletter(site, ["flood-toll", "wildfire-evacuations"], "<two@brief>", "Tuesday brief"))
    box.add(message(html='<p><a href="https://elsewhere.example/a/b">x</a></p>', **{
        "From": "someone@else.example", "Message-ID": "<other@else>", "List-Id": "<other.list>"}))
    box.flush()
    (tmp_path / "copies").mkdir()
    (tmp_path / "copies" / "again.eml").write_bytes(newsletter(site, ["flood-toll"], "<one@brief>", "Monday brief"))
    settings = make_settings(sources=[
        {"name": "brief", "kind": "newsletter", "url": "mbox:brief.mbox", "from": ["brief@news.example.org"]},
        {"name": "copies", "kind": "newsletter", "url": "eml:copies"},
    ])

    summary = cycle.run_cycle(settings, cycle.utcnow(), everything=True)

    brief, copies = summary["polls"]
    assert (brief["new_articles"], brief["error"], copies["new_articles"]) == (4, None, 0)
    assert summary["checks"]["new_version"] == 4  # the linked stories are checked like any others
    db = storage.open_db(settings.database)
    issues = storage.list_issues(db)
    assert [(issue.subject, issue.source) for issue in issues] == [("Monday brief", "brief"), ("Tuesday brief", "brief")]
    assert [url for url, _, _ in issues[0].links] == [f"{site.url}/news/flood-toll", f"{site.url}/news/bridge-contract",
                                                      f"{site.url}/news/council-vote"]  # the tracker followed
    assert all(article_id for issue in issues for _, _, article_id in issue.links)

    config = tmp_path / "redline.toml"
    config.write_text(f'[database]\npath = "{settings.database}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["newsletters", "--json", "--config", str(config)])
    records = [__import__("json").loads(line) for line in result.output.splitlines()]
    assert [record["message_id"] for record in records] == ["<one@brief>", "<two@brief>"]
    assert {"source", "subject", "sender", "date", "message_id", "links"} <= set(records[0])
    history = CliRunner().invoke(cli, ["history", f"{site.url}/news/flood-toll", "--config", str(config)])
    assert "linked by the newsletter 'Monday brief' (brief" in history.output
    assert "linked by the newsletter 'Tuesday brief' (brief" in history.output
    export = CliRunner().invoke(cli, ["export", "--config", str(config)])
    assert len(export.output.splitlines()) == 4

    again = cycle.poll_source(settings, "brief")  # each message is read once
    assert again["new_articles"] == 0 and len(storage.list_issues(db)) == 2


def test_a_mailbox_that_cannot_be_read_is_recorded_on_its_source(make_settings, tmp_path):
    from pipeline import cycle

    settings = make_settings(sources=[{"name": "gone", "kind": "newsletter", "url": "maildir:no-such-folder"}])
    [poll] = cycle.poll_sources(settings)
    assert "no maildir there" in poll["error"]


@pytest.mark.parametrize("source, expected", [
    ({"kind": "newsletter", "url": "ftp://brief.example.org/feed"}, r"expected an http\(s\) URL"),
    ({"kind": "newsletter", "url": "imaps://me:pw@mail.example.org/INBOX"}, "no user or password in the URL"),
    ({"kind": "rss", "url": "mbox:brief.mbox"}, "a mailbox is read by kind = \"newsletter\""),
    ({"kind": "rss", "url": "https://x.example/feed", "from": ["a@b"]}, "from and list_id only for"),
])
def test_newsletter_settings_are_checked(make_settings, source, expected):
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=expected):
        make_settings(sources=[{"name": "s", **source}])


# IMAP, against a real Dovecot on 127.0.0.1 ------------------------------------------------------

DOVECOT_CONF = """base_dir = {home}/run
state_dir = {home}/state
log_path = {home}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {home}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={home}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


class Dovecot:
    """A Dovecot IMAP server on 127.0.0.1 with one user and a Maildir in a folder of its own."""

    user, password = "reader", "s3cret-imap-pass"

    def __init__(self):
        import os
        import pwd
        import shutil
        import socket
        import subprocess
        import tempfile
        import time

        owner = pwd.getpwnam("dovecot")
        self.home = Path(tempfile.mkdtemp(prefix="redline-dovecot-", dir="/tmp"))
        self.home.chmod(0o755)  # the mail process runs as dovecot, not as the test's user
        (self.home / "mail").mkdir()
        os.chown(self.home / "mail", owner.pw_uid, owner.pw_gid)
        (self.home / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        (self.home / "dovecot.conf").write_text(DOVECOT_CONF.format(home=self.home, port=self.port))
        self.process = subprocess.Popen([shutil.which("dovecot"), "-F", "-c", str(self.home / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(200):  # bounded: up to 10 s for the server to listen
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"dovecot did not start: {self.process.stderr.read().decode()[-500:]}")

    def client(self):
        import imaplib

        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        client.create(folder)
        client.append(folder, None, None, raw)
        client.logout()

    def close(self) -> None:
        import shutil

        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def dovecot():
    import os
    import shutil

    if not shutil.which("dovecot"):
        reason = "Dovecot is not installed (make test installs Debian's dovecot-imapd where it runs as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    server = Dovecot()
    yield server
    server.close()


def test_an_imap_folder_is_read_once_per_message_and_left_as_it_was(dovecot, newsroom_site, make_settings,
                                                                   monkeypatch, caplog):
    import storage
    from pipeline import cycle

    site = newsroom_site
    monkeypatch.setenv("REDLINE_IMAP_USER", dovecot.user)
    monkeypatch.setenv("REDLINE_IMAP_PASSWORD", dovecot.password)
    dovecot.append(newsletter(site, ["flood-toll"], "<one@brief>", "Monday brief"))
    dovecot.append(newsletter(site, ["bridge-contract"], "<two@brief>", "Tuesday brief"))
    settings = make_settings(sources=[{"name": "inbox", "kind": "newsletter",
                                       "url": f"imap://127.0.0.1:{dovecot.port}/INBOX"}])

    first = cycle.poll_source(settings, "inbox")
    dovecot.append(newsletter(site, ["wildfire-evacuations"], "<three@brief>", "Wednesday brief"))
    second = cycle.poll_source(settings, "inbox")
    third = cycle.poll_source(settings, "inbox")

    assert (first["error"], first["new_articles"], second["new_articles"], third["new_articles"]) == (None, 3, 1, 0)
    db = storage.open_db(settings.database)
    assert [issue.subject for issue in storage.list_issues(db)] == ["Monday brief", "Tuesday brief", "Wednesday brief"]
    client = dovecot.client()
    client.select("INBOX", readonly=True)
    _, flags = client.fetch("1:*", "(FLAGS)")
    assert all(b"\\Seen" not in line and b"\\Deleted" not in line for line in flags)  # nothing marked
    client.logout()
    assert dovecot.password not in caplog.text


def test_wrong_imap_credentials_are_recorded_on_the_source_without_them(dovecot, make_settings, monkeypatch):
    import storage
    from pipeline import cycle

    monkeypatch.setenv("REDLINE_IMAP_USER", dovecot.user)
    monkeypatch.setenv("REDLINE_IMAP_PASSWORD", "not-the-password")
    settings = make_settings(sources=[{"name": "inbox", "kind": "newsletter",
                                       "url": f"imap://127.0.0.1:{dovecot.port}/INBOX"}])
    poll = cycle.poll_source(settings, "inbox")
    assert "the IMAP server said no" in poll["error"] and "not-the-password" not in poll["error"]
    archive = settings.database.read_bytes() + settings.database.with_name("redline.db-wal").read_bytes()
    assert b"not-the-password" not in archive
    monkeypatch.delenv("REDLINE_IMAP_PASSWORD")
    assert "set REDLINE_IMAP_USER and REDLINE_IMAP_PASSWORD" in cycle.poll_source(settings, "inbox")["error"]
    assert storage.get_source(storage.open_db(settings.database), "inbox").last_error


def test_a_newsletters_web_archive_is_read_through_its_feed_one_page_per_issue(newsroom_site, make_settings):
    import storage
    from pipeline import cycle

    site = newsroom_site
    items = "".join(f"<item><title>Brief {n}</title><link>{site.url}/brief/{n}</link>"
                    f"<pubDate>Mon, 0{n} Nov 2026 06:00:00 +0000</pubDate></item>" for n in (1, 2))
    site.page("/brief/feed", f'<rss version="2.0"><channel><title>Brief</title>{items}</channel></rss>',
              kind="application/rss+xml")
    for n, slug in ((1, "flood-toll"), (2, "bridge-contract")):
        site.page(f"/brief/{n}", f'<html><body><nav><a href="{site.url}/brief/archive">Archive</a></nav>'
                                 f'<article><h1>Brief {n}</h1><p>Today: <a href="https://news.example.net/x/{slug}">'
                                 f'the {slug} story</a>, <a href="{site.url}/brief/subscribe">subscribe</a>.</p>'
                                 f"</article></body></html>")
    settings = make_settings(sources=[{"name": "archive", "kind": "newsletter", "url": f"{site.url}/brief/feed"}])

    poll = cycle.poll_source(settings, "archive")

    assert (poll["error"], poll["new_articles"]) == (None, 2)
    db = storage.open_db(settings.database)
    issues = storage.list_issues(db)
    assert [(issue.subject, issue.sent_at) for issue in issues] == [("Brief 1", "2026-11-01T06:00:00.000+00:00"),
                                                                   ("Brief 2", "2026-11-02T06:00:00.000+00:00")]
    assert [[url for url, _, _ in issue.links] for issue in issues] == [["https://news.example.net/x/flood-toll"],
                                                                       ["https://news.example.net/x/bridge-contract"]]
    assert cycle.poll_source(settings, "archive")["new_articles"] == 0 and site.hits("/brief/1") == 1


def test_an_issue_received_twice_is_one_record_and_a_corrected_resend_is_its_next_version(newsroom_site,
                                                                                            make_settings, tmp_path):
    import json

    from click.testing import CliRunner

    import storage
    from pipeline import cycle
    from pipeline.cli import cli

    site = newsroom_site
    first = newsletter(site, ["flood-toll", "bridge-contract"], "<one@brief>", "Monday brief",
                       Date="Mon, 02 Nov 2026 06:00:00 +0000")
    forwarded = newsletter(site, ["flood-toll", "bridge-contract"], "<one-copy@relay>", "Fwd: Monday brief",
                           Date="Mon, 02 Nov 2026 06:05:00 +0000")
    corrected = message(html=f'<p>Correction: an earlier version of this newsletter gave the wrong toll.</p>'
                             f'<p>At least 19 people were killed, <a href="{site.url}/news/flood-toll">officials said</a>.'
                             f'</p>', **{"Message-ID": "<one-fixed@brief>", "Subject": "Correction: Monday brief",
                                         "Date": "Mon, 02 Nov 2026 09:00:00 +0000"})
    for name, raw in (("mail", first), ("relay", forwarded), ("mail", corrected)):
        box = mailbox.mbox(tmp_path / f"{name}.mbox")
        box.add(raw)
        box.flush()
    settings = make_settings(sources=[{"name": n, "kind": "newsletter", "url": f"mbox:{n}.mbox"} for n in ("mail", "relay")])

    cycle.poll_sources(settings)

    db = storage.open_db(settings.database)
    issues = storage.list_issues(db)
    assert [(issue.message_id, issue.version) for issue in issues] == [("<one@brief>", 1), ("<one-fixed@brief>", 2)]
    assert issues[1].corrects == issues[0].id
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\npath = "{settings.database}"\n', encoding="utf-8")
    records = [json.loads(line) for line in
               CliRunner().invoke(cli, ["newsletters", "--json", "--config", str(config)]).output.splitlines()]
    assert records[1]["corrects"] == "<one@brief>" and records[1]["version"] == 2
    assert any("correction" in change or "headline" in change for change in records[1]["changes"])


@pytest.mark.airflow
def test_under_airflow_imap_credentials_come_from_an_airflow_connection(dovecot, make_settings, tmp_path, monkeypatch,
                                                                       airflow_db, dagbag):
    import storage

    dovecot.append(message())
    monkeypatch.setenv("AIRFLOW_CONN_BRIEF_IMAP", f"imap://{dovecot.user}:{dovecot.password}@127.0.0.1:{dovecot.port}")
    config = tmp_path / "redline.toml"
    config.write_text(f'[database]\npath = "redline.db"\n[network]\nallow_private = true\n\n[[sources]]\n'
                      f'name = "inbox"\nkind = "newsletter"\nurl = "imap://127.0.0.1:{dovecot.port}/INBOX"\n'
                      f'credentials = "airflow:brief_imap"\n', encoding="utf-8")
    monkeypatch.setenv("REDLINE_CONFIG", str(config))

    state = dagbag.dags["redline_poll_sources"].test().state

    assert str(getattr(state, "value", state)) in ("success", "skipped")
    db = storage.open_db(tmp_path / "redline.db")
    assert [issue.message_id for issue in storage.list_issues(db)] == ["<brief-2026-11-01@news.example.org>"]
    assert storage.get_source(db, "inbox").last_error is None


def test_airflow_credentials_outside_airflow_say_so(make_settings):
    from pipeline import cycle

    settings = make_settings(sources=[{"name": "inbox", "kind": "newsletter", "url": "imap://127.0.0.1:9/INBOX",
                                       "credentials": "airflow:brief_imap"}])
    assert "read only when the poll runs under Airflow" in cycle.poll_source(settings, "inbox")["error"]
