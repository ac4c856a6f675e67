"""robots.txt as RFC 9309 reads it: pure functions of strings.

The rules of the groups that name our product token apply, else those of `*`; the
longest matching pattern wins, and Allow wins a tie. `*` matches any run of
characters and a final `$` anchors the end. Crawl-delay, which is not in the RFC but
is common, is read from the same group.
"""

from __future__ import annotations

import math
import re
from dataclasses import field
from urllib.parse import quote, unquote, urlsplit

from pipeline.models import record

MAX_BYTES = 500 * 1024  # RFC 9309: parse at least the first 500 KiB
_LINE = re.compile(r"^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$")


@record
class Rule:
    """One Allow or Disallow line of the group that applies to us."""

    allow: bool
    pattern: str
    regex: re.Pattern = field(compare=False, repr=False)


@record
class RobotsRules:
    """What one origin's robots.txt lets our crawler fetch."""

    rules: tuple[Rule, ...] = ()
    crawl_delay: float | None = None
    everything_disallowed: bool = False  # the file could not be fetched (5xx, network error)

    def allows(self, url: str) -> bool:
        """Whether url (absolute, or a path with its query) may be fetched."""
        target = _target(url)
        if target == "/robots.txt":
            return True
        if self.everything_disallowed:
            return False
        best: Rule | None = None
        for rule in self.rules:
            if rule.regex.match(target) and (
                best is None or len(rule.pattern) > len(best.pattern)
                or (len(rule.pattern) == len(best.pattern) and rule.allow)
            ):
                best = rule
        return best is None or best.allow


ALLOW_ALL = RobotsRules()
DISALLOW_ALL = RobotsRules(everything_disallowed=True)


def product_token(user_agent: str) -> str:
    """The name a robots.txt group uses for us: the User-Agent up to its first '/' or space, lower-cased."""
    return re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0].lower()


def parse_robots(text: str, user_agent: str) -> RobotsRules:
    """The rules of text that apply to user_agent; malformed lines are ignored, as the RFC asks."""
    token = product_token(user_agent)
    groups: list[tuple[list[str], list[tuple[str, str]]]] = []
    agents: list[str] = []
    lines: list[tuple[str, str]] = []
    for raw in text[:MAX_BYTES].splitlines():
        match = _LINE.match(raw.split("#", 1)[0])
        if not match:
            continue
        key, value = match.group(1).lower(), match.group(2)
        if key in ("user-agent", "useragent"):
            if lines:  # a user-agent line after rules starts a new group
                groups.append((agents, lines))
                agents, lines = [], []
            agents.append(value.lower())
        elif agents and key in ("allow", "disallow", "crawl-delay"):
            lines.append((key, value))
    if agents:
        groups.append((agents, lines))
    mine = [lines for names, lines in groups if token in names]
    chosen = mine or [lines for names, lines in groups if "*" in names]
    return _rules([line for lines in chosen for line in lines])


def _rules(lines: list[tuple[str, str]]) -> RobotsRules:
    rules, delay = [], None
    for key, value in lines:
        if key == "crawl-delay":
            try:
                seconds = float(value)
            except ValueError:
                continue
            if math.isfinite(seconds) and seconds >= 0:
                delay = max(seconds, delay or 0.0)
        elif value:  # an empty Disallow allows everything: no rule
            pattern = _normalise(value if value.startswith(("/", "*")) else "/" + value)
            rules.append(Rule(key == "allow", pattern, _compile(pattern)))
    return RobotsRules(tuple(rules), delay)


def _compile(pattern: str) -> re.Pattern:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", body))
                      + ("$" if anchored else ""), re.DOTALL)


def _normalise(path: str) -> str:
    # Compare like with like: both sides percent-encoded the same way (RFC 9309 section 2.2.2).
    return quote(unquote(path), safe="/?=&*$;:@!,'()+~%-._")


def _target(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return _normalise(path + (f"?{parts.query}" if parts.query else ""))
