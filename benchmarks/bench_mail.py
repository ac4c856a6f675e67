"""Reading newsletters: an mbox of 10,000 messages, read into issues and their story links, against
the bare floor of Python's own mbox reading and MIME parsing of the same messages. Peak memory is
measured at three sizes of the mbox: it must stay flat as the mailbox grows."""

from __future__ import annotations

import email
import email.policy
import mailbox
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

from pipeline.mail import read_mailbox, read_message

SIZES = (1_000, 10_000)
STORY = ("<p>{n}. <a href=\"https://click.mail.example.net/ls/click?upn=x{m}&url=https%3A%2F%2Fnews.example.org%2F2026%2F"
         "{m}%2Fstory-{n}%3Futm_source%3Dbrief\">Story {n} of issue {m}: what happened and what it means</a></p>")


def write_mbox(path: Path, count: int) -> None:
    box = mailbox.mbox(path)
    box.lock()
    for m in range(count):
        mail = EmailMessage()
        mail["From"], mail["To"] = "The Brief <brief@news.example.org>", "reader@example.com"
        mail["Subject"], mail["Message-ID"] = f"The Brief, issue {m}", f"<issue-{m}@news.example.org>"
        mail["Date"], mail["List-Id"] = "Sun, 01 Nov 2026 06:00:00 +0000", "<brief.news.example.org>"
        stories = "".join(STORY.format(n=n, m=m) for n in range(8))
        mail.set_content(f"The Brief, issue {m}: eight stories, read them in your browser.")
        mail.add_alternative(f"<html><body><h1>The Brief</h1>{stories}"
                             "<p><a href=\"https://news.example.org/unsubscribe\">Unsubscribe</a></p></body></html>",
                             subtype="html")
        box.add(mail)
    box.flush()
    box.unlock()


# Each reading runs in a process of its own, so that its peak memory (ru_maxrss) is its own.
READ = """
import resource, sys, time
from pathlib import Path
from benchmarks.bench_mail import {name}
started = time.process_time()
count = {name}(Path(sys.argv[1]))
print(count, time.process_time() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(name: str, path: Path) -> tuple[int, float, float]:
    """(messages, CPU seconds, peak RSS MiB) of reading the whole mbox with the function called name."""
    output = subprocess.run([sys.executable, "-c", READ.format(name=name), str(path)], capture_output=True,
                            text=True, check=True).stdout.split()
    return int(output[0]), float(output[1]), int(output[2]) / 1024


def redline(path: Path) -> int:
    links = count = 0
    for _, raw, _ in read_mailbox("mbox", path):
        links += len(read_message(raw).links) if raw else 0
        count += 1
    assert links == 8 * count, "every story link read"
    return count


def bare(path: Path) -> int:
    box, count = mailbox.mbox(path), 0
    for key in box.iterkeys():
        email.message_from_bytes(box.get_bytes(key), policy=email.policy.default).get_body(("html", "plain")).get_content()
        count += 1
    return count


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print("| messages | MB | Redline msg/s | Redline peak RSS MiB | bare msg/s | bare peak RSS MiB |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for size in SIZES:
            path = Path(tmp) / f"brief-{size}.mbox"
            write_mbox(path, size)
            count, seconds, peak = measure("redline", path)
            bare_count, bare_seconds, bare_peak = measure("bare", path)
            assert count == bare_count == size
            print(f"| {size:,} | {path.stat().st_size / 1e6:.1f} | {count / seconds:,.0f} | {peak:.1f} | "
                  f"{bare_count / bare_seconds:,.0f} | {bare_peak:.1f} |")
        print("(Redline: every message read into an issue with its 8 story links, trackers unwrapped and "
              "URLs canonicalised; bare: Python's mbox reading and MIME parsing of the same messages)")
