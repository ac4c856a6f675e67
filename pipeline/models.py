"""Frozen records passed between the stages. Times are aware UTC datetimes."""

# The annotations are evaluated, not strings (no `from __future__ import annotations`): dataclass parses each
# string annotation to see whether it names ClassVar, 8 million instructions for these 289 fields at every start.

from dataclasses import Field, FrozenInstanceError, dataclass, field, fields
from datetime import datetime, timezone
from functools import cached_property
from operator import attrgetter


def record(cls: type) -> type:
    """cls made a frozen dataclass, as every record of the project is.

    Equality, hash and repr are closures over the fields, and so are the two methods that keep a record
    frozen, instead of methods that dataclass writes and compiles for each class: that compiling was most
    of the time each process spent importing this module, before it did anything (issue 13's start-up).
    They behave as dataclass's do. __init__, which dataclass must compile, is compiled when the record is
    first made: a command uses a few of the records.
    """
    cls = dataclass(init=False, eq=False, repr=False)(cls)  # (frozen below: dataclass would compile two more)
    every = fields(cls)
    cls.__init__ = _compiled_on_first_use(cls, every)
    names = frozenset(f.name for f in every)
    compared = _values([f.name for f in every if f.compare])
    hashed = _values([f.name for f in every if (f.compare if f.hash is None else f.hash)])
    shown = [f.name for f in every if f.repr]

    def __setattr__(self, name, value):
        # __init__ sets each field once; after it, nothing may be set (a cached_property writes past this).
        if name in self.__dict__ or name not in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self):
        return hash(hashed(self))

    def __repr__(self):
        return f"{self.__class__.__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    cls.__setattr__, cls.__delattr__ = __setattr__, __delattr__
    cls.__eq__, cls.__hash__, cls.__repr__ = __eq__, __hash__, __repr__
    return cls


def _compiled_on_first_use(cls: type, every: tuple[Field, ...]):
    """An __init__ that has dataclass compile cls's own at its first call, puts it in its place and calls it."""

    def __init__(self, *args, **kwargs):
        # dataclass writes the __init__ on a twin of cls holding the same fields: run on cls itself again,
        # it would take a default_factory field, whose class attribute it removed, for a required one. (The
        # twin has cls's docstring: without one, dataclass would write one from inspect.signature, 1 ms.)
        twin = type(cls.__name__, (), {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                       "__doc__": cls.__doc__,
                                       "__annotations__": {f.name: f.type for f in every},
                                       **{f.name: f for f in every}})
        cls.__init__ = dataclass(eq=False, repr=False)(twin).__init__
        cls.__init__(self, *args, **kwargs)

    return __init__


def _values(names: list[str]):
    # attrgetter of one name gives the value itself, of none it cannot be made: a tuple either way.
    if len(names) > 1:
        return attrgetter(*names)
    return lambda obj: tuple(getattr(obj, name) for name in names)


@record
class Entry:
    """One article found by a source: its URL and what the source says of it."""

    url: str
    title: str | None = None
    summary: str | None = None
    published: str | None = None
    updated: str | None = None  # ISO 8601 UTC, when the source says the story last changed


@record
class Fetched:
    """The outcome of one HTTP request, including failures (error set, body empty)."""

    url: str
    final_url: str
    status: int | None
    at: datetime
    elapsed_ms: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the server (429/503) or a throttled host asks us to wait
    skipped: str | None = None  # why no request was sent: "robots" or "throttled"
    blocked: bool = False  # the address guard refused it (network.allow_private, allow_hosts)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


@record
class Extracted:
    """Clean article text and the metadata the page claims."""

    text: str
    title: str | None = None
    byline: str | None = None
    published: str | None = None
    modified: str | None = None
    notices: tuple[str, ...] = ()
    extractor: str = ""
    banner: str | None = None  # the page's update banner ("Updated 11 March, 09:15 UTC"), not part of text
    language: str | None = None  # what the page declares ("de"), else a guess from its text; not stored

    @cached_property
    def words(self) -> int:
        """Words in text, as pipeline.extract.count_words counts them; counted once (a check asks twice)."""
        from pipeline.extract import count_words  # (extraction has loaded it wherever a page was read)

        return count_words(self.text)


IN_THE_FEED = "(in the feed)"  # the context of a change a feed revealed: no sentence of the page


@record
class Change:
    """One meaningful change between two versions of an article."""

    kind: str
    before: str | None
    after: str | None
    context: str | None = None
    subject: str | None = None
    significance: float = 1.0
    detail: str | None = None  # for a figure: value, qualifier, added or removed
    delta: float | None = None  # for a figure's value: new minus old (middles of ranges)
    relative: float | None = None  # delta as a share of the old value


@record
class SentenceOp:
    """What happened to one sentence, or to a sentence that split or merged.

    op is unchanged, edited, moved, added or deleted. A split is an edited op with one old
    and several new indices; a merge has several old indices and one new. old and new hold
    the sentences' text (joined by a space when there are several); ops their word diff.
    """

    op: str
    old_indices: tuple[int, ...]
    new_indices: tuple[int, ...]
    old: str | None
    new: str | None
    ops: tuple[tuple[int, str], ...] = ()

    @property
    def old_index(self) -> int | None:
        return self.old_indices[0] if self.old_indices else None

    @property
    def new_index(self) -> int | None:
        return self.new_indices[0] if self.new_indices else None

    @property
    def shape(self) -> str:
        """split, merged, or one (one sentence to one, or a sentence on one side only)."""
        if len(self.new_indices) > 1:
            return "split"
        return "merged" if len(self.old_indices) > 1 else "one"


@record
class Diff:
    """What changed between two versions: word ops, sentence alignment, statistics, changes.

    disclosed says whether the page says what changed (a correction or editor's note, an "updated
    to include …" line or banner); bumped, whether it only shows that something did (a new "Updated
    11 March" banner, a later dateModified, a bare "This story has been updated"). Neither: a stealth
    edit. disclosures says how, in both cases.
    """

    ops: tuple[tuple[int, str], ...]
    changes: tuple[Change, ...] = ()
    stats: dict = field(default_factory=dict, hash=False, compare=False)
    sentences: tuple[SentenceOp, ...] = ()
    disclosed: bool = False
    disclosures: tuple[str, ...] = ()
    bumped: bool = False

    @property
    def disclosure(self) -> str:
        """disclosed, timestamp (bumped, nothing said of what changed) or stealth."""
        return "disclosed" if self.disclosed else "timestamp" if self.bumped else "stealth"


@record
class DiffReport:
    """One diff with what a reader needs around it: the article, the versions, whether it is a revert."""

    diff: Diff
    url: str | None = None
    from_number: int | None = None
    to_number: int | None = None
    old_title: str | None = None
    new_title: str | None = None
    revert_of: int | None = None
    note: str | None = None  # how the texts were obtained, when not simply as stored


@record
class Verdict:
    """What a fetched page means for its article: a new version, or why not.

    status is new_version, unchanged, no_text, wall, suspect or extractor_drift. baseline is
    the previous version as the current extractor reads its stored page: the side a diff starts from.
    """

    status: str
    page: Extracted | None = None
    previous: "Version | None" = None
    baseline: Extracted | None = None
    reason: str | None = None


@record
class CheckOutcome:
    """What one article check did, for counting and logging."""

    article_id: int
    status: str  # new_version | unchanged | not_modified | failed | gone | no_text | wall | suspect
    #              | extractor_drift | redirected | duplicate | disallowed | deferred
    version: int | None = None
    changes: int = 0
    error: str | None = None


@record
class Article:
    """A tracked story and its checking state, as stored."""

    id: int
    canonical_url: str
    source_id: int | None
    status: str
    first_seen_at: str
    title: str | None = None
    feed_title: str | None = None
    feed_summary: str | None = None
    feed_updated: str | None = None
    priority: int = 0
    next_check_at: str | None = None
    last_checked_at: str | None = None
    last_changed_at: str | None = None
    checks: int = 0
    changes: int = 0
    etag: str | None = None
    last_modified: str | None = None
    last_body_hash: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    suspect_hash: str | None = None  # text hash of a collapsed text held until a second check confirms it
    suspect_at: str | None = None


@record
class Version:
    """One distinct text of an article, as stored."""

    article_id: int
    number: int
    fetched_at: str
    text_hash: str
    text: str
    title: str | None = None
    byline: str | None = None
    published_at: str | None = None
    modified_at: str | None = None
    word_count: int = 0
    notices: tuple[str, ...] = ()
    extractor: str | None = None
    raw_blob: str | None = None
    revert_of: int | None = None
    banner: str | None = None

    def page(self) -> Extracted:
        """The version as the extraction that produced it, for comparing with another."""
        return Extracted(text=self.text, title=self.title, byline=self.byline, published=self.published_at,
                         modified=self.modified_at, notices=self.notices, extractor=self.extractor or "",
                         banner=self.banner)


@record
class Source:
    """A configured source as stored, with the state of its last poll."""

    id: int
    name: str
    kind: str
    location: str
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: str | None = None
    last_error: str | None = None


@record
class Alias:
    """Another URL an article's story was found under: a redirect, canonical, wrapper or duplicate."""

    url: str
    kind: str
    seen_at: str


@record
class Host:
    """The politeness state of one origin (scheme://host:port): its robots.txt, throttling and next slot."""

    origin: str
    robots_status: int | None = None
    robots_txt: str | None = None
    robots_fetched_at: str | None = None
    robots_expires_at: str | None = None
    blocked_until: str | None = None
    throttles: int = 0
    next_slot_at: float | None = None


@record
class StoredDiff:
    """The diff that led to a stored version, as stored: word ops, statistics, disclosure."""

    id: int
    article_id: int
    from_number: int
    to_number: int
    ops: tuple[tuple[int, str], ...]
    stats: dict = field(hash=False, compare=False)
    created_at: str = ""
    disclosed: bool = False
    disclosures: tuple[str, ...] = ()
    extractor_drift: bool = False
    bumped: bool = False  # only a timestamp moved (see Diff)


@record
class StoredChange:
    """A detected change as stored, with its article, source and the versions it lies between.

    origin is page (found in a diff), feed or fetch (gone, redirected, a new address); the
    version numbers are None outside a diff. disclosed is None outside a diff too.
    """

    id: int
    article_id: int
    url: str
    kind: str
    before: str | None
    after: str | None
    detected_at: str
    origin: str = "page"
    article_title: str | None = None
    source: str | None = None
    context: str | None = None
    subject: str | None = None
    significance: float = 1.0
    detail: str | None = None
    delta: float | None = None
    relative: float | None = None
    from_number: int | None = None
    to_number: int | None = None
    disclosed: bool | None = None
    bumped: bool | None = None  # the page only bumped a timestamp (None outside a diff)

    @property
    def stealth(self) -> bool:
        """Whether the change came with an edit the page showed nothing of."""
        return self.disclosed is False and not self.bumped


@record
class Alert:
    """One alert (a change, a rule, a channel) and its delivery state, with the change it is about."""

    id: int
    rule: str
    channel: str
    status: str  # pending | sending | sent | failed | abandoned | uncertain
    attempts: int
    created_at: str
    change_id: int
    article_id: int
    url: str
    kind: str
    before: str | None
    after: str | None
    detected_at: str
    last_error: str | None = None
    next_attempt_at: str | None = None
    claimed_at: str | None = None
    claimed_by: str | None = None  # host:pid:start of the process that claimed it for sending
    sent_at: str | None = None  # when the channel accepted the message
    article_title: str | None = None
    source: str | None = None
    context: str | None = None
    subject: str | None = None
    significance: float = 1.0
    detail: str | None = None
    delta: float | None = None
    relative: float | None = None
    from_number: int | None = None
    to_number: int | None = None


@record
class Reextraction:
    """What re-extracting one stored version's raw page with today's extractor gave."""

    url: str
    article_id: int
    number: int
    extractor: str
    stored_extractor: str | None
    checked_at: str
    text_hash: str | None = None
    differs: bool = False
    drift_only: bool = False
    error: str | None = None

    @property
    def status(self) -> str:
        """failed, differs or same."""
        return "failed" if self.error else "differs" if self.differs else "same"


@record
class Link:
    """One article link of a newsletter issue: where it leads, its place and its words."""

    url: str
    position: int
    anchor: str | None = None


@record
class Issue:
    """One newsletter issue as read from its message."""

    message_id: str
    subject: str | None
    sender: str | None
    list_id: str | None
    sent_at: str | None
    text: str
    links: tuple[Link, ...] = ()


@record
class StoredIssue:
    """A newsletter issue as stored, with its source and links (each with the article it leads to)."""

    id: int
    source: str | None
    message_id: str
    subject: str | None
    sender: str | None
    list_id: str | None
    sent_at: str | None
    received_at: str
    links: tuple[tuple[str, str | None, int | None], ...] = ()  # (url, anchor, article id), in order
    version: int = 1
    corrects: int | None = None  # the issue this re-send corrects
    text: str = ""


@record
class CorrectedIssue:
    """A newsletter issue with the issue it corrects, when it is a corrected re-send, and what changed."""

    issue: StoredIssue
    corrects: StoredIssue | None = None
    changes: tuple[Change, ...] = ()


ARTICLE_SORTS = ("latest", "changes", "versions", "first_seen")  # the orders of the article list


@record
class ArticleQuery:
    """Which articles a list shows and in what order: each filter is off when None or False."""

    source: str | None = None
    since: str | None = None  # a change detected at or after this ISO time (or date)
    until: str | None = None  # ... and before this one
    figure: bool = False  # only articles with a figure change
    stealth: bool = False  # only articles with an undisclosed edit
    gone: bool = False  # only articles whose page went away
    text: str | None = None  # words or "a phrase" in any stored version
    sort: str = "latest"  # latest | changes | versions | first_seen
    limit: int = 50
    offset: int = 0


@record
class ArticleSummary:
    """One row of the article list: the story, its source and how much it changed."""

    id: int
    url: str
    source: str | None
    title: str | None
    status: str
    first_seen_at: str
    last_changed_at: str | None
    versions: int
    changes: int  # changes detected (figures, sentences, headline, ...), all versions together
    figure_changes: int = 0
    stealth_edits: int = 0  # versions reached by an edit the page did not disclose
    last_error: str | None = None


@record
class SearchHit:
    """The latest stored version of one article that holds the words searched for."""

    article_id: int
    url: str
    source: str | None
    title: str | None
    version: int
    fetched_at: str
    snippet: str  # the matching passage; the words found are between \x02 and \x03
    first_version: int | None = None  # the first version that held them
    disappeared_at: int | None = None  # the version after the last one holding them, if there is one
    versions: int = 0


@record
class SourceStats:
    """What the archive holds of one source (source None: articles no source lists any more)."""

    source: str | None
    kind: str | None
    articles: int
    versions: int
    changes: int
    changes_by_kind: dict = field(hash=False, compare=False)
    updates: int = 0  # diffs: versions after the first
    stealth: int = 0  # ... of which the page showed nothing
    bumped: int = 0  # ... of which it only bumped a timestamp
    median_hours_to_first_update: float | None = None
    failing: int = 0
    gone: int = 0
    last_error: str | None = None
    last_polled_at: str | None = None

    @property
    def stealth_share(self) -> float | None:
        return self.stealth / self.updates if self.updates else None


@record
class ArchiveStats:
    """Per source and over the whole archive: what `redline stats` prints and the workspace shows."""

    sources: tuple[SourceStats, ...]
    totals: SourceStats


@record
class TimelineEntry:
    """One version in an article's timeline, with what the edit that made it did (none for the first)."""

    number: int
    fetched_at: str
    title: str | None
    byline: str | None
    modified_at: str | None
    published_at: str | None
    banner: str | None
    notices: tuple[str, ...]
    word_count: int
    revert_of: int | None = None
    disclosed: bool | None = None
    disclosures: tuple[str, ...] = ()
    bumped: bool | None = None
    words_added: int = 0
    words_removed: int = 0
    figures_changed: int = 0
    extractor_drift: bool = False


@record
class FigurePoint:
    """A figure's value at one version of a story (the death toll as it rose)."""

    subject: str
    version: int
    value: str
    delta: float | None = None


def utcnow() -> datetime:
    """The current time, aware and in UTC: the one clock the stages are handed."""
    return datetime.now(timezone.utc)


def to_iso(moment: datetime) -> str:
    """A UTC timestamp that sorts as text: always milliseconds, always +00:00."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def from_iso(text: str) -> datetime:
    """The aware datetime a to_iso string stands for."""
    return datetime.fromisoformat(text)


def to_dict(record) -> dict:
    """A flat record's fields by name, as dataclasses.asdict gives them but without deep-copying each value
    (which made asdict most of the time `redline changes --json` takes on a large archive)."""
    return dict(vars(record))


@record
class CopyProgress:
    """How far copying an archive has come: rows of one table copied so far (resumed ones included), of its total."""

    table: str
    copied: int
    total: int
