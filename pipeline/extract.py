"""HTML to clean article text and metadata: pure functions of strings."""

from __future__ import annotations

import functools
import json
import re
import threading
import unicodedata
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator

from pipeline import compile_lazily
from pipeline.config import DiffSettings
from pipeline.errors import ExtractionError, WallError
from pipeline.models import Extracted

if TYPE_CHECKING:  # trafilatura, htmldate and lxml load when a page is read, not with every module that imports this
    from lxml.html import HtmlElement

# Bump when a rule below changes what text or metadata a page yields: stored versions then count as
# extracted by another extractor, so the difference is never taken for a newsroom edit.
# 3: a JSON-LD block that trafilatura's clean-up breaks is read as the JSON it is (bylines).
# 4: German, French and Spanish timestamp lines ("Aktualisiert am …", "il y a 5 minutes") and French and Spanish
#    widget lines ("Lire aussi", "Publicidad") are noise.
# 5: trafilatura's fast mode first, its full run where that finds under half the paragraph text.
# 6: a body split into containers of one template is read whole (see _add_continuations); the full run's text is
#    not taken where it strays into another article (see _strays).
# 7: "popular" and "trending" marks name widgets (most-read lists), as "most-read" did, and a widget word counts
#    in a camelCase mark too ("recommendedStories").
# 8: a line linking another story under a label ("Read more: …", "Les også: …") is noise, as the bare label was, and
#    so is a template's placeholder; a page whose markup holds no body is read from a script's data (_embedded_body);
#    the headings trafilatura leaves out over kept paragraphs are put back (_add_headings: a live blog's entries).
# 9: a container that a teaser heading opens ("More from …", "You might also like") is a widget, and so is an element
#    marked a caption; a widget's lines are also matched as trafilatura gives a card or list item, on one line; an
#    embed's consent placeholder and a comment system's prompts are noise.
# 10: calls to subscribe ("cta", "promo") and the author's biography are widgets; calls to sign up for a newsletter,
#    subscribe, give, rate or send tips, app and channel promotions, lines sending the reader to a live blog and a
#    broadcaster's programme line are noise.
# 11: a line pointing elsewhere with ">>", a shop's commission notice and French and Spanish calls to sign up for
#    the newsletter are noise.
RULES = 11
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
MIN_WORDS = 20

# Lines in which a newsroom discloses an edit; kept in the text and also listed as notices. The labels and
# phrases that say what changed (a correction, an earlier version owned up to) are also diff's evidence.
CORRECTION_LABELS = (r"correction|clarification|editor['’]s note|korrektur|korrekturhinweis|berichtigung"
                     r"|richtigstellung|anmerkung der redaktion|hinweis der redaktion|rectificatif|erratum|précision"
                     r"|note de la rédaction|fe de errores|corrección|rectificación|aclaración"
                     r"|nota de la redacción|nota del editor")
UPDATE_LABELS = r"update[d]?|aktualisierung|aktualisiert|mise à jour|mis à jour|actualisation|actualización|actualizado"
EARLIER_VERSION = (r"an earlier version of this|in einer früheren version dieses|une (?:précédente|première) version"
                   r" de cet|una versión anterior de (?:este|esta)")
_NOTICE = re.compile(
    rf"^\s*(?:{CORRECTION_LABELS}|{UPDATE_LABELS})\s*[:.\-–—]"
    rf"|(?:{EARLIER_VERSION}) (?:story|article|report|artikels|beitrags|textes|artículo|noticia|información)"
    r"|this (?:story|article|report) (?:has been|was) (?:updated|corrected|amended)"
    r"|diese[rs]? (?:artikel|beitrag|text|meldung) wurde\b.{0,80}?\b(?:aktualisiert|korrigiert|geändert|ergänzt)"
    r"|cet article a été (?:mis à jour|corrigé|modifié|actualisé)"
    r"|(?:este artículo|esta noticia|esta información) (?:ha sido|fue) (?:actualizad|corregid|modificad)[oa]",
)  # lower case, searched in lowered lines: a case-insensitive search took three times as long
# Lines that change on every visit without any edit: "Updated 3:45 PM ET", "5 minutes ago".
_TIMESTAMPS = (
    r"^\s*(?:last\s+)?updated:?\s+(?:on\s+|at\s+)?[\w ,:./-]{0,40}\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?\s*\w{0,4}\s*$",
    r"^\s*(?:last\s+)?updated:?\s+(?:on\s+)?\w{3,9}\.? \d{1,2},? \d{4}\s*$",
    r"^\s*(?:(?:last\s+)?updated|posted|published)?:?\s*\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?)\s+ago\s*$",
    # "Aktualisiert am 3. März 2025, 14:30 Uhr", "Stand: 03.03.2025 14:30 Uhr", "Mis à jour le 3 mars à 14h30",
    # "Actualizado: 03/03/2025 14:30", "vor 5 Minuten", "il y a 5 minutes", "hace 5 minutos".
    r"^\s*(?:(?:zuletzt\s+)?aktualisiert|stand|veröffentlicht):?\s+(?:am\s+)?[\w ,:./-]{0,40}\d{1,2}[:.]\d{2}"
    r"\s*(?:uhr)?\s*$",
    r"^\s*(?:mis à jour|publié|actualisé)\s*:?\s+(?:le\s+)?[\w ,:./-]{0,40}\d{1,2}\s*[h:]\s*\d{2}\s*$",
    r"^\s*(?:actualizado|publicado)\s*:?\s+(?:el\s+)?[\w ,:./-]{0,40}\d{1,2}[:.h]\d{2}\s*(?:h|horas)?\s*$",
    r"^\s*(?:vor\s+\d+\s+(?:sekunden|minuten|stunden|tagen)|il y a\s+\d+\s+(?:secondes?|minutes?|min|heures?|h|jours?)"
    r"|hace\s+\d+\s+(?:segundos?|minutos?|horas?|días?))\s*$",
)
# Lines left by widgets rather than written by the newsroom: ads, share and follow prompts,
# newsletter sign-ups, reading times, photo credits of rotating galleries.
_BOILERPLATE = (
    r"^(?:advertisement|anzeige|werbung|publicité|passer la publicité|sponsored|article content"
    r"|(?:- )?advertisement.{0,40}story continues below|story continues below(?: advertisement)?"
    r"|recommended videos?|related(?: stories| articles| content| coverage)?:?|read (?:more|also|next):?"
    r"|lesen sie auch:?|(?:das könnte sie auch interessieren|mehr zum thema):?|see also:?|share|shares"
    r"|(?:à )?lire aussi ?:?|sur le même sujet ?:?|partager|publicidad|(?:lee|leer) también:?|te puede interesar:?"
    r"|noticias relacionadas:?|compartir)$",
    r"^share (?:this|on|via)\b.{0,60}$",
    # A link to another story under a label ("Read more: Storm closes coast road"): it changes between visits.
    r"^(?:read (?:more|also|next)|see also|lesen sie auch|mehr zum thema|(?:à )?lire aussi|(?:lee|leer) también"
    r"|les også|læs også|läs också|lees ook|leggi anche)\s*:\s*\S.{0,150}$",
    r"^(?:sign up|subscribe)\b.{0,100}\b(?:newsletters?|emails?|inbox)\b.{0,60}$",
    r"^follow \S+(?: \S+){0,3} on (?:twitter|x|facebook|instagram|google news|whatsapp)\b.{0,160}$",
    r"^(?:reading time|lesedauer|lesezeit)\s*:?\s*\d+\s*\w{0,8}$|^\d+\s*(?:min(?:ute)?s?\.? read|minuten lesezeit)$",
    r"^\d{1,3}\s*(?:of|/)\s*\d{1,3}$",  # "3 of 12" under a rotating gallery
    r"^(?:\$\$\w+\$\$|\{\{\s*\w+\s*\}\})$",  # a template's placeholder left in ("$$ARTICLEAD$$", "{{ad}}")
    r"^(?:photo|image|picture|foto|bild|credit)s?\s*:\s*.{1,80}$",
    # An embed's consent placeholder: it gives way to the embed once a reader agrees, so it comes and goes.
    r"^(?:empfohlener redaktioneller inhalt|externen? inhalte? (?:anzeigen|laden|zulassen)"
    r"|ein klick für den datenschutz)$",
    r"^an dieser stelle finden sie .{0,80}\bexternen? inhalt",
    r"^ich bin damit einverstanden, dass mir .{0,40}\bexterne[n]? inhalte? angezeigt",
    # A comment system's prompts, shown or not by whether its script ran.
    r"^you must confirm your public display name before commenting\.?$",
    r"^please logout and then login again, you will then be prompted to enter your display name\.?$",
    r"^would you like to comment on this (?:article|story)\?$", r"^sign up \(it's quick and free\) or sign in now\.?$",
    r"^join (?:the conversation|thought-provoking conversations)\b.{0,120}$",
    r"^(?:log in|sign in) or (?:create an account|register|subscribe) to (?:continue|read)\b.{0,40}$",
    # A call to get the newsletter, rate or give, addressed to the reader: the page's frame, not the story.
    r"^(?:get|have|receive)\b.{0,80}\b(?:in|to|straight to) your inbox\.?$",
    r"^(?:wie )?hat ihnen (?:dieser|der) (?:artikel|beitrag) gefallen\?", r"^durchschnittliche bewertung: [\d,.]+$",
    r"^unabhängiger journalismus braucht (?:deine|ihre) unterstützung\.?$", r"^ihre meinung ist uns wichtig\b.{0,200}$",
    r"^mehr zum thema\b.{0,120}:$", r"^>>\s*\S.{0,150}$",  # (">> Hier finden Sie alle Termine im Überblick")
    r"^we independently select everything we recommend\b.{0,200}$",  # a shop's commission notice
    # a broadcaster's programme line ("Sendung: Antenne Brandenburg, 24.04.2024, 15:10 Uhr")
    r"^(?:dieses thema im programm|sendung)\s*:.{0,150}\d{1,2}[:.]\d{2} uhr$",
)
# Calls to the reader found anywhere in a line, which are noise in a line of up to CALL_LENGTH characters (a
# paragraph of the story may quote one): to sign up for the newsletter, subscribe, follow a channel, get the app,
# send a tip, read on in the live blog. The newsroom changes them with its campaigns, not with the story.
_CALLS = tuple(map(compile_lazily, (
    r"\b(?:sign(?:ing)? up|subscribe)\b.{0,30}\b(?:our|your|\w+'s)\b.{0,40}\bnewsletters?\b",
    r"\bnewsletter (?:informiert sie|richtig)\b",
    r"\b(?:abonnieren sie|abonniere|melden sie sich)\b.{0,60}\bnewsletter\b",
    r"\b(?:inscrivez-vous|abonnez-vous)\b.{0,40}\bnewsletters?\b",
    r"\b(?:suscríbete|suscríbase|apúntate)\b.{0,40}\b(?:newsletters?|boletín)\b",
    r"\bsubscribe (?:now|today)\s*[.!]*$",
    r"\b(?:abonniere|abonnieren sie|folge|folgen sie|follow)\b.{0,40}\bwhatsapp[- ](?:kanal|channel)\b",
    r"\b(?:hier|here|download|herunterladen)\b.{0,60}\bapp\b.{0,40}\b(?:android|ios)\b",
    r"\?\s*(?:e-?mail|get in touch|contact us|write to us)\b.{0,40}@[\w.-]+\.\w+\.?$",
    r"\b(?:lesen|finden) sie\b.{0,80}\bin unserem\b.{0,40}:$",
)))  # searched in the lowered line, after _CALL_WORDS: a pattern that begins with \b tries every position
_CALL_WORDS = compile_lazily("newsletter|boletín|subscribe|whatsapp|android|ios|@|in unserem")  # each call holds one
CALL_LENGTH = 300
_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2039": "'", "\u203a": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...",
    **{code: " " for code in (0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)},
    # Invisible characters that only change where a browser may break a line.
    "\u200b": "", "\u2060": "", "\ufeff": "", "\u00ad": "",
})
_TRANSLATABLE = compile_lazily("[" + "".join(map(chr, _TRANSLATE)) + "]")
_SPACES = re.compile(r"[ \t\f\v]+")
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A word: a number with its separators ("40,000", "1.5"), one Chinese or Japanese character (those
# scripts put no spaces between words), or a run of letters and digits with inner apostrophes.
WORD = rf"\d+(?:[.,]\d+)*|[{CJK}]|[^\W\d{CJK}][^\W{CJK}]*(?:['’][^\W{CJK}]+)*|\w+"
_FROM_CJK = compile_lazily("[^\x00-\u303f]")  # a character at or above the first of CJK (1.3 ms to compile)
_LATIN_WORD = r"\d+(?:[.,]\d+)*|[^\W\d]\w*(?:['’]\w+)*|\w+"  # WORD, for a text without those characters


class WordPattern:
    """WORD, or else the given alternatives: for findall.

    re's compiler builds a character class one code point at a time, so each of WORD's four classes that
    hold the Chinese and Japanese ranges (28,000 code points) took 2-3 ms to compile, in every process that
    read words. A text without those characters is matched alike without them; the whole pattern is compiled
    when a text first holds one.
    """

    def __init__(self, alternatives: str = ""):
        self.alternatives = alternatives
        self._latin = re.compile(_LATIN_WORD + alternatives)

    @functools.cached_property
    def _whole(self) -> re.Pattern:
        return re.compile(WORD + self.alternatives)

    def findall(self, text: str) -> list[str]:
        # isascii() is answered from the string's header; the search reads 4 ns a character (max(), 20 ns).
        whole = not text.isascii() and _FROM_CJK.search(text) is not None
        return (self._whole if whole else self._latin).findall(text)


_WORD = WordPattern()
_MARKUP = compile_lazily(rb"<\s*(?:!doctype\s+html|html|head|body|article|p|div)\b", re.IGNORECASE)

# Page furniture that trafilatura sometimes keeps: captions (they rotate with the picture),
# share bars, "related stories", newsletter boxes, recommendation and most-read widgets, calls to subscribe, the
# author's biography (the same under every story of theirs). "hasCaption" marks a container holding a caption.
_WIDGET = compile_lazily(
    r"(?:^|[\s_-])(?:share|sharing|sharebar|share-?tools|related|newsletter|newsletter-?signup"
    r"|recommended|recommendations|read-?more|more-?stories|most-?read|popular|trending|outbrain|taboola"
    r"|(?<!has-)(?<!with-)caption|cta|promo|bio|author-?bio|author-?box|about-?the-?author)(?:$|[\s_-])",
)  # searched in lowered marks: a thousand elements a page, and a case-insensitive search is the slower
# A heading that opens a list of other stories: the container it opens is a widget however it is marked.
_TEASER_HEADING = compile_lazily(
    r"(?:more (?:from|stories|news|in)\b|related\b|read (?:next|more|also)\b|also read\b|recommended\b"
    r"|you (?:may|might) (?:also )?(?:like|enjoy)|most (?:read|popular|viewed)\b"
    r"|mehr (?:zum thema|aus|von)\b|weitere (?:artikel|nachrichten|themen|meldungen)\b|lesen sie auch\b"
    r"|das könnte sie auch interessieren|(?:à )?lire aussi|sur le même sujet|plus d'articles"
    r"|te puede interesar|más noticias|también te puede|les også|les mer)"
)  # matched at the start of the lowered heading
_HEADINGS = ("h2", "h3", "h4", "h5", "h6")  # below the headline
_TEASER_HEADING_TAGS = frozenset({"h1", *_HEADINGS})  # (a teaser box may open with an h1 of its own)
# A part of each widget word that no hyphen of _WIDGET's splits: a mark without any of them names no widget.
_WIDGET_LETTERS = compile_lazily(r"shar|related|newsletter|recommend|read|stories|popular|trending|outbrain|taboola"
                                 r"|caption|cta|promo|bio|author")
_CAMEL = compile_lazily(r"(?<=[a-z0-9])(?=[A-Z])")  # "recommendedStories": a widget word in a camelCase mark
_KEEP_TAGS = {"html", "body", "main", "article"}

_LIST_MARK = re.compile(r"^- ")  # trafilatura's mark before a list item

# Pages that stand in for the article. Consent walls and bot checks are searched in the whole
# page; paywall phrases only in the article text (a full article page may carry a subscribe
# banner), or in the whole page when it yields no article text. Each phrase begins with a word, not
# an optional one: re finds a fixed beginning by a fast scan, but tries an optional one at every
# character (0.36 ms of a page's visible text, against 0.01).
_WALLS = {
    "paywall": (
        r"subscribe (?:now )?to (?:continue|keep|read) reading",
        r"continue reading,? (?:please )?(?:subscribe|sign in|log in|become a (?:member|subscriber))",
        r"this (?:article|story|content) is (?:only )?(?:available|reserved|exclusive) (?:to|for) "
        r"(?:paying )?(?:subscribers|members)",
        r"you(?:'ve| have) reached (?:your|the) (?:limit of )?(?:\w+ )?free (?:articles?|stories)",
        r"la suite est réservée aux abonnés",
        r"cet article est réservé aux abonnés",
        r"jetzt abonnieren und weiterlesen",
        r"este contenido es exclusivo para (?:suscriptores|abonados)",
        r"suscríbete para (?:seguir|continuar) leyendo",
        r"dieser artikel ist (?:nur )?(?:für|exklusiv für) (?:abonnenten|abonnentinnen)",
        r"il vous reste \d+(?:[.,]\d+)?\s?% de cet article à lire",
        r"この記事は(?:有料)?会員限定です",
    ),
    "consent wall": (
        r"before you continue to (?:google|youtube)",
        r"bevor sie zu google weitergehen",
        r"we need your consent to (?:show|display|continue)",
    ),
    "bot check": (
        r"checking (?:if the site connection is secure|your browser before accessing)",
        r"verify(?:ing)? (?:that )?you are (?:a )?human",
        r"please (?:enable|turn on) (?:javascript|js) and cookies",
        r"are you a robot\?",
        r"access to this page has been denied",
        r"our systems have detected unusual traffic",
        r"(?:complete|solve) the (?:security )?(?:captcha|challenge) (?:below|to continue)",
    ),
}
_WALL_PATTERNS = {kind: tuple(map(compile_lazily, patterns)) for kind, patterns in _WALLS.items()}  # all lower case
_WALL_TITLES = compile_lazily(r"^\s*(?:just a moment\.*|attention required!.*|access denied|"
                          r"are you a robot\??|robot check|security check)\s*$", re.IGNORECASE)
# Update banners: "Updated 11 March 2025, 09:15 UTC", "Last updated: 3:45 PM ET".
_UPDATED = r"updated|aktualisiert|mis à jour|actualizado|aggiornato"
_BANNER = compile_lazily(
    rf"\b(?:last\s+)?(?:{_UPDATED})\b\s*:?\s*(?:on\s+|at\s+|am\s+|le\s+)?(?=[^\n]{{0,40}}\d)[^\n|·•]{{1,60}}",
    re.IGNORECASE,
)
_BANNER_WORD = compile_lazily(_UPDATED)  # searched in lowered text: twice as fast as a case-insensitive search
_BANNER_SCOPE = ("article", "main", "body")
_ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "blogposting",
                  "liveblogposting", "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle"}


def _straighten(text: str) -> str:
    """text in NFC, with straight quotes and dashes, plain spaces, and no invisible characters."""
    text = unicodedata.normalize("NFC", text)
    if not text.isascii():  # str.translate looks every character up in a dict: only the few it maps
        text = _TRANSLATABLE.sub(lambda match: _TRANSLATE[ord(match.group())], text)
    return text


def _one_line(text: str) -> str:
    """text straightened, every run of white space (line breaks too) one space: what wall phrases are searched
    in. Half the time of normalize_text on a page's visible text."""
    return _flat(_straighten(text))


def normalize_text(text: str) -> str:
    """NFC, straight quotes and dashes, single spaces; paragraph breaks kept, blank lines dropped."""
    text = _straighten(text)
    if "\v" in text or "\f" in text:  # line breaks to splitlines, spaces to _SPACES: split before collapsing
        return "\n".join(filter(None, (_SPACES.sub(" ", line).strip() for line in text.splitlines())))
    return "\n".join(filter(None, map(str.strip, _SPACES.sub(" ", text).splitlines())))


def _text_of(element: HtmlElement) -> str:
    """element's text as the extracted text reads it: normalised."""
    return normalize_text(element.text_content())


@functools.lru_cache(maxsize=256)
def compile_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    """Case-insensitive regexes, compiled once per distinct tuple of patterns."""
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def strip_noise(text: str, patterns: tuple[str, ...] = ()) -> str:
    """Drop the lines that match a built-in noise or boilerplate pattern or a configured one, and the lines of
    up to CALL_LENGTH characters that hold a call to the reader (_CALLS)."""
    noise = compile_patterns((*_TIMESTAMPS, *_BOILERPLATE, *patterns))
    return "\n".join(line for line in text.split("\n") if not any(n.search(line) for n in noise) and not _calls(line))


def _calls(line: str) -> bool:
    """Whether line is a call to the reader (_CALLS) of up to CALL_LENGTH characters."""
    if len(line) > CALL_LENGTH:
        return False
    low = line.lower()
    return _CALL_WORDS.search(low) is not None and any(call.search(low) for call in _CALLS)


def hash_text(text: str) -> str:
    """The content hash two versions share when their normalised text is the same."""
    import hashlib  # (OpenSSL's: 2.5 ms of a start that only reads and diffs stored versions)

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def describe_extractor(ignore: tuple[str, ...] = ()) -> str:
    """The extractor's name and version, with a fingerprint of the ignore patterns that shaped the text."""
    # Read on first use: importlib.metadata costs a run that extracts nothing 10 ms of its start.
    from importlib.metadata import version

    extractor = f"trafilatura {version('trafilatura')}; redline rules {RULES}"
    if not ignore:
        return extractor
    return f"{extractor}; ignore {hash_text(json.dumps(list(ignore)))[:8]}"


# Words common in running text of one language and rare in the others: enough of them tell the language.
_COMMON_WORDS = {
    "en": frozenset({"the", "and", "of", "to", "is", "was", "that", "for", "with", "said", "has", "have", "it"}),
    "de": frozenset({"der", "die", "und", "das", "ist", "nicht", "mit", "den", "von", "sich", "auch", "wurde", "ein"}),
    "fr": frozenset({"le", "les", "et", "des", "est", "une", "dans", "pour", "qui", "du", "pas", "au", "sur"}),
    "es": frozenset({"el", "los", "las", "y", "que", "del", "por", "una", "con", "para", "fue", "se", "al"}),
}
_LANGUAGE_CODE = compile_lazily(r"^\s*([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)*\s*$")
# In running text of its language these words make up 11-23% of the words (the shared corpus); in other
# languages, 3% at most.
GUESS_SHARE = 0.08
GUESS_MIN_WORDS = 3  # and at least so many of them, three times as many as any other language's


def guess_language(text: str) -> str | None:
    """The language whose common words make up a good share of text (en, de, fr or es), or None."""
    words = find_words(text[:20000].lower())
    hits = sorted(((sum(word in common for word in words), code) for code, common in _COMMON_WORDS.items()),
                  reverse=True)
    (best, code), (runner_up, _) = hits[0], hits[1]
    if best >= GUESS_MIN_WORDS and best >= 3 * runner_up and best >= GUESS_SHARE * len(words):
        return code
    return None


def find_language(tree: HtmlElement) -> str | None:
    """The language the page declares (html lang, Content-Language, og:locale) as a lower-case code: "de" for
    "de-AT"; None when it declares none that reads as one."""
    for value in _declared_languages(tree):
        if match := _LANGUAGE_CODE.match(value or ""):
            return match.group(1).lower()
    return None


def _declared_languages(tree: HtmlElement) -> Iterator[str | None]:
    # An HTML parser keeps xml:lang as it is written; an XML one puts it in the XML namespace. The head's meta
    # tags are searched only when the root says nothing (most pages: the search is 40x the attribute reads).
    yield from (tree.get("lang"), tree.get("xml:lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"))
    yield from _xpath("//head/meta[translate(@http-equiv, 'CONTENTLAGU', 'contentlagu')='content-language']"
                      "/@content | //head/meta[@property='og:locale']/@content", False)(tree)


@functools.lru_cache(maxsize=64)  # a check asks it of each text three times (extraction, disclosures, corrections)
def find_notices(text: str) -> tuple[str, ...]:
    """The lines in which the newsroom says the story was corrected or updated."""
    return tuple(line for line in text.split("\n") if _NOTICE.search(line.lower()))


def ensure_html(body: bytes, content_type: str | None, source: str) -> None:
    """Raise ExtractionError unless body looks like an HTML page."""
    if not body.strip():
        raise ExtractionError(source, "empty body (expected an HTML page)")
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and kind not in ("text/html", "application/xhtml+xml") and not _MARKUP.search(body[:4096]):
        raise ExtractionError(source, f"content type {kind!r} (expected text/html)")
    if not _MARKUP.search(body[:65536]):
        raise ExtractionError(source, "no HTML markup found (expected an HTML page)")


def find_wall(title: str, visible_text: str, patterns: tuple[str, ...] = ()) -> str | None:
    """Why a page is a consent or bot-check page (or matches a configured wall pattern), or None."""
    if _WALL_TITLES.match(title or ""):
        return f"bot check (title {title.strip()!r})"
    text = _one_line(visible_text)
    for kind in ("consent wall", "bot check"):
        if reason := _search_walls(kind, text):
            return reason
    return _search("configured wall pattern", compile_patterns(patterns), f"{title}\n{text}")


def find_paywall(text: str) -> str | None:
    """Why text is a paywall's rather than an article's, or None."""
    return _search_walls("paywall", _one_line(text))


def _search_walls(kind: str, text: str) -> str | None:
    # The built-in phrases are lower case, searched in the lowered text: a case-insensitive search compares
    # every character both ways, and took 1.2 ms of a page's 2 (its visible text is 22,000 characters).
    lowered = text.lower()
    if len(lowered) != len(text):  # lowering moved some offsets ("İ" becomes two characters): search the page as is
        return _search(kind, compile_patterns(_WALLS[kind]), text)
    match = _first_match(_WALL_PATTERNS[kind], lowered)
    return match and f"{kind} ({text[match.start():match.end()]!r})"


def _search(kind: str, patterns: tuple[re.Pattern, ...], text: str) -> str | None:
    match = _first_match(patterns, text)
    return match and f"{kind} ({match.group(0)!r})"


def _first_match(patterns: tuple[re.Pattern, ...], text: str) -> re.Match | None:
    return next((match for pattern in patterns if (match := pattern.search(text))), None)


def find_banner(tree: HtmlElement) -> str | None:
    """The page's update banner ("Updated 11 March 2025, 09:15 UTC"), looked for in the article only."""
    # The first of each in document order, by a walk in C that stops there (an XPath collects them all).
    scope = next((found for tag in _BANNER_SCOPE if (found := next(tree.iter(tag), None)) is not None), None)
    if scope is None or not _BANNER_WORD.search(scope.text_content().lower()):
        return None
    for element in scope.iter():
        if not isinstance(element.tag, str):
            continue
        if _BANNER_WORD.search((element.text or "").lower()):
            line = element.text_content()
        elif _BANNER_WORD.search((element.tail or "").lower()) and element.getparent() is not None:
            line = element.getparent().text_content()  # "Published <time>…</time> · Updated <time>…</time>"
        else:
            continue
        line = normalize_text(line)
        if len(line) <= 200 and (match := _BANNER.search(line)):
            return match.group(0).strip(" ,;")
    return None


def _json_blocks(tree: HtmlElement) -> list[tuple[str, str, object]]:
    """The page's JSON-LD and settings scripts, each read once: its type, its text and its data (None when
    the text is no valid JSON). The dates and the headline and byline are all read from these."""
    blocks = []
    for script in _xpath('//script[@type="application/ld+json" or @type="application/settings+json"]')(tree):
        text = script.text or ""
        try:
            data = json.loads(text, strict=False)
        except ValueError:
            data = None
        blocks.append((script.get("type"), text, data))
    return blocks


def _json_ld_dates(blocks: list[tuple[str, str, object]]) -> tuple[str | None, str | None]:
    """datePublished and dateModified of the page's JSON-LD article (or, failing one, its web page)."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for kind, _, data in blocks:
        if kind != "application/ld+json" or data is None:
            continue
        for item in _ld_objects(data):
            kinds = item.get("@type")
            kinds = {k.lower() for k in (kinds if isinstance(kinds, list) else [kinds]) if isinstance(k, str)}
            dates = (_iso_date(item.get("datePublished")), _iso_date(item.get("dateModified")))
            if any(dates):
                found.setdefault("article" if kinds & _ARTICLE_TYPES else "webpage" if "webpage" in kinds else "",
                                 dates)
    return found.get("article") or found.get("webpage") or (None, None)


def _ld_objects(data):
    if isinstance(data, list):
        for item in data:
            yield from _ld_objects(item)
    elif isinstance(data, dict):
        yield data
        yield from _ld_objects(data.get("@graph", []))


def _iso_date(value) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).isoformat()
    except ValueError:
        return None


def _find_date(tree: HtmlElement, url: str | None, original: bool) -> str | None:
    import htmldate

    # A date the markup declares first; the page's text is searched (for a publication date only) when it
    # declares none. Of the 30 corpus pages whose JSON-LD names no date, the markup declared one on every
    # page, the same as the text search found on 29 and the reference's on the 30th, to the second, where
    # the text search said midnight. The text search also loads every dateparser locale (96 ms a process).
    found = htmldate.find_date(tree, original_date=original, outputformat=_DATE_FORMAT, url=url,
                               extensive_search=False)
    if not found and original:
        found = htmldate.find_date(tree, original_date=True, outputformat=_DATE_FORMAT, url=url,
                                   extensive_search=True)
    if not found:
        return None
    try:  # ISO 8601 with a colon in the offset, like every other timestamp Redline stores
        return datetime.strptime(found, _DATE_FORMAT).isoformat()
    except ValueError:
        return datetime.strptime(found[:19], "%Y-%m-%dT%H:%M:%S").isoformat()


def is_later(newer: str | None, older: str | None) -> bool:
    """Whether ISO date newer is strictly later than older (a date without offset counts as UTC)."""
    def moment(value: str) -> datetime | None:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)

    if not newer or not older:
        return False
    new, old = moment(newer), moment(older)
    return bool(new and old and new > old)


def _widget_lines(tree: HtmlElement, paragraphs: int) -> set[str]:
    """The lines of text inside captions, share bars, related-story lists and newsletter boxes.

    They are taken out of the extracted text afterwards, not out of the page before: removing
    elements can make trafilatura choose another container and lose the body. An element that
    holds a quarter of the page's paragraph text (paragraphs, in characters) outside links is the
    article's container, not a widget.
    """
    lines: set[str] = set()
    taken: set = set()  # widgets whose lines are in: a widget inside one adds nothing
    for element in _widget_candidates(tree):
        if element.tag in _KEEP_TAGS or element in taken or any(parent in taken for parent in element.iterancestors()):
            continue
        if sum(len(p.text_content()) for p in element.iter("p") if next(p.iterancestors("a"), None) is None) \
                > paragraphs / 4:
            continue
        taken.add(element)
        read: set[str] = set()  # an element's text as its parent's (a link around one span), or only spaces
        for part in element.iter():
            if not isinstance(part.tag, str) or (raw := part.text_content()) in read or raw.isspace() or not raw:
                continue
            read.add(raw)
            text = normalize_text(raw)
            lines.update(text.split("\n"))
            # and as one line, as trafilatura may give a block whose text breaks lines, or a list item (the
            # pieces of its headline and summary spaced)
            if part.tag == "li":
                lines.add(normalize_text(" ".join(part.itertext())).replace("\n", " "))
            elif "\n" in text:
                lines.add(text.replace("\n", " "))
    lines.discard("")
    return lines


@functools.cache
def _xpath(expression: str, smart_strings: bool = True):
    """expression compiled once a process (with smart_strings false, its strings hold no element)."""
    from lxml.etree import XPath  # (lxml loads when a page is read)

    return XPath(expression, smart_strings=smart_strings)


def _widget_candidates(tree: HtmlElement) -> Iterator[HtmlElement]:
    """Captions, elements whose class, id or aria-label names a widget, and containers that a teaser heading
    opens ("More from The Nation", "You might also like"), in document order (an element before those inside
    it). A walk of the elements, now that their classes are looked up in C (see _parser), takes three quarters
    of the time of one XPath for the marks, which sorts them and makes each a string that knows its element."""
    from lxml.etree import Element  # (lxml loads when a page is read)

    for element in tree.iter(Element):
        tag = element.tag
        if tag == "figcaption":
            yield element
            continue
        for name in _WIDGET_ATTRIBUTES:
            mark = element.get(name)
            if mark and _names_widget(mark):
                yield element
                break
        else:
            # (a container named a widget by its class is yielded already, before its heading)
            if tag in _TEASER_HEADING_TAGS and (container := _opened_by_teaser(element)) is not None:
                yield container


def _opened_by_teaser(heading: HtmlElement) -> HtmlElement | None:
    """The container heading opens, when it is its first element, reads as a teaser label and a sixth of the
    container's text or more is links: a list of other stories, each card's headline a link, its summary not.
    (An article's own section under "More from the interview" or "Recommended dosage" is mostly its own text.)"""
    from lxml.etree import Element

    container = heading.getparent()
    if container is None or next(container.iterchildren(Element)) is not heading:
        return None
    if not _TEASER_HEADING.match(_flat(heading.text_content()).lower()):
        return None
    text = len(_flat(container.text_content()))
    linked = sum(len(_flat(link.text_content())) for link in container.iter("a"))
    return container if linked * 6 >= text else None


_WIDGET_ATTRIBUTES = ("class", "id", "aria-label")


# Whether a mark names a widget, by mark: a site's pages share their classes and ids, and most of a page's
# marks repeat (a third are distinct), so most are answered without the search.
_WIDGET_MARKS: dict[str, bool] = {}
_WIDGET_MARKS_KEPT = 50_000


def _names_widget(mark: str) -> bool:
    # mark is an attribute's value as Element.get gives it: a plain str, which holds no element (nor the page).
    named = _WIDGET_MARKS.get(mark)
    if named is None:
        if len(_WIDGET_MARKS) >= _WIDGET_MARKS_KEPT:
            _WIDGET_MARKS.clear()
        # Most marks (15 in 16 on the corpus) hold no widget word's letters at all: told by one search, 0.9 µs a
        # mark against 2.2 for the split and the search (each process meets 200 new marks a page).
        named = _WIDGET_MARKS[mark] = bool(_WIDGET_LETTERS.search(mark.lower())
                                           and _WIDGET.search(_CAMEL.sub("-", mark).lower()))
    return named


def visible_text(tree: HtmlElement) -> str:
    """The text of the page's body outside scripts, styles, noscript and templates, its pieces joined by spaces."""
    # An XSLT transform walks the tree in C: half the time of a walk in Python (1.15 ms a corpus page), which
    # took half the time of an XPath asking each text node for a hidden ancestor. Each piece is followed by a
    # space, so the last one is cut.
    return str(_visible_transform()(tree.getroottree()))[:-1]


_VISIBLE_TEXT = b"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="UTF-8"/>
<xsl:template match="/"><xsl:apply-templates select="(//body)[1]/node()"/></xsl:template>
<xsl:template match="script|style|noscript|template|comment()|processing-instruction()"/>
<xsl:template match="text()"><xsl:value-of select="."/><xsl:text> </xsl:text></xsl:template>
</xsl:stylesheet>"""
_transforms = threading.local()


def _visible_transform():
    # One per thread: lxml does not promise that one XSLT object may be applied from several threads.
    if not hasattr(_transforms, "visible"):
        from lxml import etree

        _transforms.visible = etree.XSLT(etree.XML(_VISIBLE_TEXT))
    return _transforms.visible


def _page_title(tree: HtmlElement) -> str:
    title = next(tree.iter("title"), None)  # the first, as //title's first: a walk that stops there takes half the time
    return _text_of(title) if title is not None else ""


@functools.cache
def _parser():
    """trafilatura's HTML parser, with element classes looked up in C. lxml.html's own lookup is Python code
    that runs for every element object made (trafilatura's walks make 5,000 a page): 1.9 ms of a page's 29.
    trafilatura needs HtmlElement's methods, not lxml.html's form element classes."""
    from lxml import etree, html

    parser = etree.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                              remove_pis=True)
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=html.HtmlElement, comment=html.HtmlComment, pi=html.HtmlProcessingInstruction, entity=html.HtmlEntity))
    return parser


def _parse(html: str | bytes, source: str) -> HtmlElement:
    """The page's tree, read as trafilatura's load_html reads it (decoding, repairs, the same checks)."""
    from lxml import etree
    from lxml.html import fromstring
    from trafilatura.utils import decode_file, is_dubious_html

    text = decode_file(html)
    beginning = text[:50].lower()
    try:
        tree = fromstring(_repaired(text, beginning), parser=_parser())
    except (ValueError, etree.LxmlError):
        tree = None
    if tree is None or (is_dubious_html(beginning) and len(tree) < 2):
        raise ExtractionError(source, "no HTML document could be parsed")
    return tree


# What trafilatura's repair drops from a page (besides U+FFFE and U+FFFF), as UTF-8 bytes.
_CONTROL_BYTES = tuple(bytes([code]) for code in range(32) if code not in (9, 10, 13))


def _repaired(text: str, beginning: str) -> bytes:
    """text as trafilatura's repair_faulty_html leaves it, in UTF-8: libxml2 reads bytes a sixth faster than str.

    The repair's regex reads every character (1.3 ms on a 330 kB page); most pages need nothing of it, and
    that is told in 0.3 ms by looking for each byte it drops and for the first lines it mends.
    """
    from trafilatura.utils import DOCTYPE_TAG, repair_faulty_html

    data = text.encode("utf-8", "surrogatepass")
    line_end = text.find("\n")
    if (any(control in data for control in _CONTROL_BYTES) or "\ufffe" in text or "\uffff" in text
            or "doctype" in beginning and (line_end < 0 or DOCTYPE_TAG.search(text, 0, line_end))
            or any("<html" in line and line.endswith("/>") for line in text[:4096].splitlines()[:4])):
        return repair_faulty_html(text, beginning).encode("utf-8", "surrogatepass")
    return data


def _title_and_byline(tree: HtmlElement, blocks: list[tuple[str, str, object]]) -> tuple[str, str]:
    """The headline and byline as trafilatura's metadata step finds them, without the dates, site name,
    categories and licence it also looks for (a third of its time on news pages; Redline reads dates itself)."""
    from trafilatura.metadata import examine_meta, extract_author, extract_title

    found = examine_meta(tree)
    if found.author and " " not in found.author:
        found.author = None  # a single word is a site or a handle, not a byline
    try:
        found = _json_ld_metadata(blocks, found)
    except Exception:  # noqa: BLE001 - its JSON-LD reader fails on odd data; trafilatura's own step goes on too
        pass
    found.title = found.title or extract_title(tree)
    found.author = found.author or (extract_author(tree) if _may_name_author(tree) else None)
    found.clean_and_trim()
    return normalize_text(found.title or ""), normalize_text(found.author or "")


# What trafilatura's markup byline search (extract_author) looks for: the marks its three XPaths test, and
# the words they test those for (a superset). A page with none of them has no byline to find there, and the
# search, which copies and prunes the whole tree before its XPaths call a Python regex for each element with
# a class (7 ms a corpus page), is skipped (12 of the 35 corpus pages that declare no author; 1 ms to tell).
_AUTHOR_WORDS = ("uthor", "byl", "yline", "BBL", "username", "screenname", "writer", "zuozhe", "bianji", "xiaobian",
                 "channel-name", "submitted-by", "posted-by", "journalist-name")


def _may_name_author(tree: HtmlElement) -> bool:
    """Whether trafilatura's extract_author could find a byline in the markup of tree (False: it finds none)."""
    marks = _xpath("//@class | //@id | //@rel | //@itemprop | //@data-testid | //@data-component | //author | //rel",
                   smart_strings=False)(tree)
    if not all(isinstance(mark, str) for mark in marks):  # an <author> or <rel> element
        return True
    text = "\n".join(marks)
    return any(word in text for word in _AUTHOR_WORDS)


def _json_ld_metadata(blocks: list[tuple[str, str, object]], found):
    """trafilatura's JSON-LD step on the blocks already read. Its clean-up (entities, tags, escapes) is applied
    to each string of the data rather than to the block's text first: that text can be hundreds of kB,
    cleaned a character at a time, and the clean-up can break the JSON (an escaped quote unescaped). Only
    a block that is no valid JSON goes through trafilatura's fallback, which reads it with regexes."""
    from trafilatura.json_metadata import extract_json, extract_json_parse_error, normalize_json
    from trafilatura.metadata import JSON_MINIFY

    for _, text, data in blocks:
        if not text:
            continue
        if data is not None:
            found = extract_json(_clean_strings(data, normalize_json), found)
            continue
        cleaned = normalize_json(JSON_MINIFY.sub(r"\1", text))
        try:
            found = extract_json(json.loads(cleaned, strict=False), found)
        except json.JSONDecodeError:
            found = extract_json_parse_error(cleaned, found)
    return found


def _clean_strings(data, clean):
    if isinstance(data, str):
        return clean(data)
    if isinstance(data, list):
        return [_clean_strings(item, clean) for item in data]
    if isinstance(data, dict):
        return {key: _clean_strings(value, clean) for key, value in data.items()}
    return data


# A body split into containers of one template (a long piece broken up around ads and pull quotes): trafilatura
# keeps the first. Looked for only where its text holds under this share of the page's paragraph text (28 of the
# 258 corpus pages; looked for on every page, it changes no other page's text and costs 0.9 ms a page). Another container of the same tag and class in the same article continues the body when at
# least CONTINUATION_PARAGRAPHS of its paragraphs, CONTINUATION_LENGTH characters long on average, are new, each
# under a fifth link text: on the corpus this reads two split bodies whole (The New Yorker, F1 0.64 -> 1.00, and
# Rzeczpospolita, 0.63 -> 0.80) and changes no other page; one paragraph of 80 characters let teasers in (7 worse).
SPLIT_BODY_SHARE = 0.6
CONTINUATION_PARAGRAPHS = 2
CONTINUATION_LENGTH = 120
_CONTINUATION_BLOCKS = ("p", "h2", "h3", "h4")


def _add_continuations(tree: HtmlElement, lines: list[str]) -> list[str]:
    """lines with the text of the body's other containers inserted where those sit in the page."""
    found = _finder("\n".join(lines))
    kept: dict[HtmlElement, list[str]] = {}  # containers of paragraphs the text holds, and those paragraphs
    for p in tree.iter("p"):
        parent, text = p.getparent(), _text_of(p)
        if text and parent is not None and parent.get("class") and found(text):
            kept.setdefault(parent, []).append(text)
    if not kept:
        return lines
    body = max(kept, key=lambda container: sum(map(len, kept[container])))
    containers = [element for element in tree.iter(body.tag) if element.get("class") == body.get("class")]
    articles = {_article_of(element) for element in containers if element in kept}
    inserts = []  # (index in lines, or None for the end; the lines to insert there)
    after, waiting = None, []  # where the last kept container's text ends; continuations met before any
    for element in containers:
        if element in kept:
            start = _line_index(lines, kept[element][0].split("\n")[0], 0)
            inserts += [(start, new) for new in waiting]
            waiting, after = [], _line_index(lines, kept[element][-1].split("\n")[-1], 1)
        elif _article_of(element) in articles and (new := _continuation(element, found)):
            if after is None:
                waiting.append(new)
            else:
                inserts.append((after, new))
    for index, new in reversed(inserts):  # from the last, so that the earlier indices still hold
        index = len(lines) if index is None else index
        lines[index:index] = new
    return lines


def _add_headings(tree: HtmlElement, lines: list[str]) -> list[str]:
    """lines with the headings trafilatura left out (a live blog's entries, where it falls back to paragraphs):
    each put before the paragraph it stands over, in a container of which two paragraphs or more are kept."""
    where = {line: k for k, line in reversed(list(enumerate(lines)))}  # each line's first index
    holds_body: dict[HtmlElement, bool] = {}
    runs: dict[int, list[str]] = {}
    for heading in tree.iter(*_HEADINGS):
        text = _text_of(heading)
        if not text or "\n" in text or text in where or _holds_code(heading):
            continue
        paragraph = _text_after(heading)
        parent = heading.getparent()
        if paragraph is None or paragraph.tag != "p" or (index := where.get(_text_of(paragraph))) is None:
            continue
        if parent not in holds_body:
            holds_body[parent] = sum(_text_of(p) in where for p in parent.iterchildren("p")) >= 2
        if holds_body[parent]:
            runs.setdefault(index, []).append(text)
    for index in sorted(runs, reverse=True):
        lines[index:index] = runs[index]
    return lines


def _text_after(heading: HtmlElement) -> HtmlElement | None:
    """The first element after heading, among its siblings, that holds text and is no heading."""
    for sibling in heading.itersiblings():
        if isinstance(sibling.tag, str) and sibling.tag not in _HEADINGS and sibling.text_content().strip():
            return sibling
    return None


def _holds_code(element: HtmlElement) -> bool:
    """Whether a script or style sits in element (its text_content would show the code)."""
    return any(True for _ in element.iter("script", "style"))


def _continuation(container: HtmlElement, found) -> list[str]:
    """The container's new paragraphs and headings when they read as body text, else nothing."""
    blocks, body = [], []
    for block in container.iter(*_CONTINUATION_BLOCKS):
        text = _text_of(block)
        if not text or found(text):
            continue
        if block.tag == "p":
            if sum(len(link.text_content()) for link in block.iter("a")) > len(text) / 5:
                continue
            body.append(text)
        blocks.append(text)
    if len(body) >= CONTINUATION_PARAGRAPHS and sum(map(len, body)) >= CONTINUATION_LENGTH * len(body):
        return "\n".join(blocks).split("\n")
    return []


def _article_of(element: HtmlElement) -> HtmlElement | None:
    return next(element.iterancestors("article", "main"), None)


def _flat(text: str) -> str:
    """text with every run of white space (line breaks too) one space."""
    return " ".join(text.split())


def _finder(text: str):
    """A test of whether a piece of the page's text is in text, white space aside."""
    flat = _flat(text)
    return lambda piece: _flat(piece) in flat


def _line_index(lines: list[str], line: str, offset: int) -> int | None:
    try:
        return lines.index(line) + offset
    except ValueError:
        return None


def _strays(tree: HtmlElement, fast: str, full: str) -> bool:
    """Whether the full run's text takes paragraphs from another <article> element than the one that holds all
    of the fast run's: a page that carries a second story whole (on the corpus, one page: F1 0.46 against the
    fast run's 0.98; the other 24 pages that run both are unchanged)."""
    holding = _articles_holding(tree, fast)
    return len(holding) == 1 and None not in holding and bool(_articles_holding(tree, full) - holding)


def _articles_holding(tree: HtmlElement, text: str) -> set:
    """The <article> elements (None for none) around the page's paragraphs of over 40 characters that text holds."""
    flat = _flat(text)
    return {next(p.iterancestors("article"), None) for p in tree.iter("p")
            if len(line := _flat(p.text_content())) > 40 and line in flat}


def _body_text(tree: HtmlElement, url: str | None, ignore: tuple[str, ...], title: str) -> str:
    """The article text by Redline's rules (widgets dropped, normalised, noise stripped)."""
    import trafilatura

    paragraphs = sum(len(p.text_content()) for p in tree.iter("p"))
    widgets = _widget_lines(tree, paragraphs)
    options = dict(url=url, with_metadata=False, include_comments=False, include_tables=True, include_images=False)
    # trafilatura's fast mode (no readability or jusText run to compare with) finds the same text on most
    # pages in 12% less time; where it finds under half the page's paragraph text, it missed the body, and
    # the full run decides (24 of the 258 corpus pages; F1 0.9564 -> 0.9570, 3 pages better, 3 worse).
    document = trafilatura.bare_extraction(tree, fast=True, **options)
    if document is None or len(document.text or "") < paragraphs / 2:
        _lend_stop_words()
        full = trafilatura.bare_extraction(tree, **options)
        if document is None or not _strays(tree, document.text or "", full.text if full else ""):
            document = full
    if not _found_text(document) and (embedded := _embedded_body(tree)):
        # A page its scripts build in the browser: the markup holds no body, the data of a script does.
        document = trafilatura.bare_extraction(f"<html><body><article>{embedded}</article></body></html>", fast=True,
                                               **options)
    if not _found_text(document):
        return ""
    lines = normalize_text(document.text).split("\n")
    if len(document.text) < SPLIT_BODY_SHARE * paragraphs:
        lines = _add_continuations(tree, lines)
    lines = _add_headings(tree, lines)
    lines = [line for line in lines if _LIST_MARK.sub("", line) not in widgets]
    if title and lines and lines[0] == title:
        lines = lines[1:]  # the headline is tracked on its own, not as body text
    return strip_noise("\n".join(lines), ignore)


def _found_text(document) -> bool:
    """Whether trafilatura's document (None where it found no article) holds any text."""
    return document is not None and bool((document.text or "").strip())


# A long string in a script's JSON or JavaScript, under a key that names a body ("contentHtml", "body", "articleText").
_JSON_STRING = compile_lazily(r'"(\w*(?:[Bb]ody|[Cc]ontent|[Hh]tml|[Tt]ext)\w*)"\s*:\s*"((?:[^"\\]|\\.){200,})"')
_PARAGRAPH = ("<p", "\\u003cp")  # as it stands in the script, "<" written out or escaped


def _embedded_body(tree: HtmlElement) -> str | None:
    """The HTML of the article that a script of the page holds for the browser to render: the longest string
    under a body's key, in a script, that holds two paragraphs or more (None when no script holds one)."""
    best = None
    for script in tree.iter("script"):
        code = script.text or ""
        if (script.get("type") or "").lower() == "application/ld+json" or not any(p in code for p in _PARAGRAPH):
            continue
        for literal in _JSON_STRING.finditer(code):
            if not any(p in literal.group(2) for p in _PARAGRAPH):
                continue
            try:
                html = json.loads(f'"{literal.group(2)}"', strict=False)
            except ValueError:
                continue
            if html.count("<p") >= 2 and len(html) > len(best or ""):
                best = html
    return best


@functools.cache
def _lend_stop_words() -> None:
    """Lend trafilatura's full run jusText's stop words as _StopWords, which reads them only when jusText asks."""
    from trafilatura import external

    if external.JT_STOPLIST is None:
        external.JT_STOPLIST = _StopWords()


class _StopWords:
    """jusText's stop words of every language, read when jusText first sorts paragraphs with them.

    trafilatura's full run asks jusText for them where it knows no language, and reads them word by word into a
    tuple first (75 ms); jusText makes what it is given a set of lower-cased words (45 ms) and keeps that set
    by what it was given (an LRU cache), hashing the tuple again at every call (1 ms). This object is read
    once in bulk by jusText itself (the same words: tests/test_extract.py), hashes as itself, and costs
    nothing in a process whose full runs never reach jusText.
    """

    def __iter__(self) -> Iterator[str]:
        import pkgutil

        from justext.utils import get_stoplists

        for name in get_stoplists():
            for word in pkgutil.get_data("justext", f"stoplists/{name}.txt").splitlines():
                yield word.decode("utf-8")


def clean_text(html: str | bytes, url: str | None = None, ignore: tuple[str, ...] = ()) -> str:
    """The article text Redline would keep for html, without the wall and length checks (for measuring)."""
    tree = _parse(html, url or "<html>")
    return _body_text(tree, url, ignore, _title_and_byline(tree, _json_blocks(tree))[0])


def find_words(text: str) -> list[str]:
    """The words and numbers of text (see WORD), without its punctuation."""
    return _WORD.findall(text)


def count_words(text: str) -> int:
    """How many words and numbers text holds (see WORD); punctuation is not counted."""
    return len(find_words(text))


def extract_article(html: str | bytes, url: str | None = None, settings: DiffSettings = DiffSettings()) -> Extracted:
    """Clean text, title, byline, dates, notices and banner of the article in html, with the noise
    lines of settings.ignore dropped.

    Raises WallError for a paywall, consent or bot-check page (built-in patterns and settings.walls),
    ExtractionError when the page holds no article text worth keeping.
    """
    ignore, walls = settings.ignore, settings.walls
    source = url or "<html>"
    tree = _parse(html, source)
    visible = visible_text(tree)
    if wall := find_wall(_page_title(tree), visible, walls):
        raise WallError(source, wall)
    banner = find_banner(tree)
    blocks = _json_blocks(tree)
    published, modified = _json_ld_dates(blocks)
    title, byline = _title_and_byline(tree, blocks)
    text = _body_text(tree, url, ignore, title)
    words = count_words(text)
    # A paywall notice counts inside the article text; on the page around it only when the text is missing.
    if paywall := find_paywall(text if words >= MIN_WORDS else visible):
        raise WallError(source, paywall)
    if not text:
        raise ExtractionError(source, "no article text found")
    if words < MIN_WORDS:
        raise ExtractionError(source, f"only {words} words of text (expected at least {MIN_WORDS})")
    page = Extracted(
        text=text,
        title=title or None,
        byline=byline or None,
        published=published or _find_date(tree, url, original=True),
        modified=modified or _find_date(tree, url, original=False),
        notices=find_notices(text),
        extractor=describe_extractor(ignore),
        banner=banner,
        language=find_language(tree) or guess_language(text),
    )
    vars(page)["words"] = words  # Extracted.words, counted already (a cached_property keeps its value there)
    return page
