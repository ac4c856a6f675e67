"""Key figures in a sentence (number, qualifier, unit, subject) and how they changed.

A sentence is cut into tokens and read left to right: an optional qualifier ("at
least"), an optional currency, a quantity (digits with any grouping, number words,
"hundreds", a range), then what follows it (a scale, a percent sign, a unit, an age or
time-of-day marker). Every number is classified: counts are figures; ages, years,
times, dates, ordinals and identifiers ("page 12", "Route 9", "G7") are kept apart.

Everything that is English lives in the `Tables` of `LANGUAGES["en"]`: another language
is another `Tables`, and the logic below reads nothing else.
"""

# Annotations evaluated, not strings: see pipeline/models.py.

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Iterable, NamedTuple

from pipeline.errors import LanguageError
from pipeline.models import Change, record

COUNT = "count"  # the kind of number that is a figure; the others are kept apart
PERCENT = "%"


@record
class Tables:
    """What one language's numbers look like. Phrases are matched case-insensitively, hyphens ignored."""

    qualifiers: dict[str, str]  # phrase before a number -> its meaning (≥, >, ~, <~, ≤, <)
    trailing_qualifiers: dict[str, str]  # phrase after a number ("or more")
    number_words: dict[str, int]  # "zero" .. "ninety"; words of 100 or more ("doscientos") count as hundreds
    hundred: tuple[str, ...]  # words that multiply what precedes by 100
    multipliers: dict[str, float]  # thousand, million, ... after digits or number words
    short_scales: dict[str, float]  # "m", "bn": only read after a currency amount
    glued_scales: dict[str, float]  # "420M", "3.5bn": glued to digits, a scale whatever precedes (case-sensitive)
    collectives: dict[str, int]  # "dozen": multiplies what precedes ("two dozen")
    indefinite: tuple[str, ...]  # "a", "an": one, before a multiplier or collective
    fractions: dict[str, float]  # "half" (a million)
    denominators: dict[str, float]  # "third", "thirds": (two-)thirds "of" the vote, read as a percentage
    fraction_followers: tuple[str, ...]  # what must follow a fraction: "of", or "the" after "half"
    joiner: str  # "and" inside "two hundred and fifty"
    vague: dict[str, float]  # "hundreds", "tens of thousands": the lower bound
    weak: tuple[str, ...]  # number words too common to report alone when added or removed
    currencies_before: dict[str, str]  # symbol or code before the amount -> ISO code
    currencies_after: dict[str, str]  # word after the amount -> ISO code
    currencies_after_scaled: dict[str, str]  # only after "million" and the like: "2.5 billion pounds"
    percent: dict[str, str]  # "%", "per cent" -> "%"; "percentage points" -> "pp"
    measures: dict[str, str]  # unit words after a number -> short unit
    attached_measures: dict[str, str]  # unit letters glued to a number ("30km", "40C")
    range_joiners: tuple[str, ...]  # "to", "-"
    ratio_joiners: tuple[str, ...]  # "3 in 10", "four out of five": a share, read as a percentage
    range_openers: dict[str, str]  # "between" -> the joiner it needs ("and")
    range_blockers: tuple[str, ...]  # "from" 30 to 40 is two figures, not a range
    ordinal_suffixes: tuple[str, ...]
    age_before: tuple[str, ...]  # "aged" 34, "under the age of" five: phrases right before an age
    list_joiners: tuple[str, ...]  # "aged 19 and 22": numbers listed after an age are ages
    age_after: tuple[str, ...]  # 34 "-year-old"
    time_after: tuple[str, ...]  # 9 "a.m.", 0930 "GMT"; a lower-case single word only if a meridiem
    meridiems: tuple[str, ...]
    decade_suffixes: tuple[str, ...]  # 1990 "s"
    months: tuple[str, ...]  # capitalised, as written in dates
    labels: tuple[str, ...]  # "page" 12, "Route" 9: the number names something
    skipped: frozenset[str]  # words skipped inside a subject phrase
    boundaries: frozenset[str]  # words that end a subject phrase
    linking: frozenset[str]  # verbs between a subject and its figure ("the toll rose to")
    determiners: frozenset[str]  # skipped after "of" ("hundreds of the homes")
    of: str
    money_links: tuple[str, ...]  # "$4.5 million in aid": what money is for follows these
    decimal_mark: str
    group_marks: str
    casualty_verbs: tuple[str, ...]  # "injuring" one officer: after these even a bare "one" is a figure
    # What other languages need and English does not (the defaults are English's).
    tens_joiner: str | None = None  # "treinta y dos", "vingt et un"
    bare_scales: tuple[str, ...] = ()  # "mil", "mille", "tausend": a scale that stands alone for its value
    framed_ages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "de" 34 "ans": before -> after
    date_links: tuple[str, ...] = ()  # "3 de marzo": a word between a day and its month
    superlative_articles: tuple[str, ...] = ("the",)  # "one of the largest": the article before a superlative
    abbreviations: frozenset[str] = frozenset()  # words a full stop follows inside a sentence ("Mio.", "bzw.")
    ordinal_dot: bool = False  # "am 3. März": a full stop after a number makes it an ordinal
    verbs: dict[str, str] = field(default_factory=dict)  # "cutting" 350 jobs -> "jobs cut": what happened to them
    head_prepositions: tuple[str, ...] = ()  # "turnout in the referendum was 64%": the head is before these
    area_units: tuple[str, ...] = ()  # "burned 3,400 hectares of grass": an area counts itself ("hectares burned")
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)  # ("forced", "leave"): "evacuated"
    capitalised_nouns: bool = False  # German: a subject is its capitalised words


ENGLISH = Tables(
    qualifiers={
        "at least": "≥", "no fewer than": "≥", "no less than": "≥", "a minimum of": "≥",
        "more than": ">", "over": ">", "upwards of": ">", "in excess of": ">", "above": ">",
        "nearly": "<~", "almost": "<~", "just under": "<~", "close to": "<~",
        "about": "~", "around": "~", "roughly": "~", "approximately": "~", "some": "~",
        "an estimated": "~", "estimated": "~", "an approximate": "~",
        "up to": "≤", "as many as": "≤", "at most": "≤", "no more than": "≤", "a maximum of": "≤",
        "fewer than": "<", "less than": "<", "under": "<", "below": "<",
    },
    trailing_qualifiers={"or more": "≥", "or so": "~", "plus": "≥", "odd": "~"},
    number_words={
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
        "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
        "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
        "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    },
    hundred=("hundred",),
    multipliers={"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12},
    short_scales={"k": 1e3, "m": 1e6, "mn": 1e6, "mln": 1e6, "b": 1e9, "bn": 1e9, "tn": 1e12},
    # Not "m" (metres), "k" or "b": without a currency they are as often units or names.
    glued_scales={"M": 1e6, "mn": 1e6, "mln": 1e6, "bn": 1e9, "Bn": 1e9, "BN": 1e9, "tn": 1e12},
    collectives={"dozen": 12},
    indefinite=("a", "an"),
    fractions={"half": 0.5},
    denominators={"half": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fifth": 5, "fifths": 5,
                  "tenth": 10, "tenths": 10},
    fraction_followers=("of", "the"),
    joiner="and",
    vague={
        "dozens": 12, "scores of": 20, "hundreds": 100, "thousands": 1e3, "tens of thousands": 1e4,
        "hundreds of thousands": 1e5, "millions": 1e6, "tens of millions": 1e7,
        "hundreds of millions": 1e8, "billions": 1e9, "a few hundred": 100, "several hundred": 100,
        "a few thousand": 1e3, "several thousand": 1e3, "a few million": 1e6, "several million": 1e6,
    },
    weak=("one",),
    currencies_before={
        "$": "USD", "us$": "USD", "usd": "USD", "€": "EUR", "eur": "EUR", "£": "GBP", "gbp": "GBP",
        "¥": "JPY", "jpy": "JPY", "₹": "INR", "rs": "INR", "a$": "AUD", "au$": "AUD", "c$": "CAD",
        "ca$": "CAD", "hk$": "HKD", "nz$": "NZD", "chf": "CHF",
    },
    currencies_after={
        "dollars": "USD", "us dollars": "USD", "usd": "USD", "euros": "EUR", "euro": "EUR", "eur": "EUR",
        "pounds sterling": "GBP", "gbp": "GBP", "yen": "JPY", "rupees": "INR", "swiss francs": "CHF",
    },
    currencies_after_scaled={"pounds": "GBP"},
    percent={"%": PERCENT, "percent": PERCENT, "per cent": PERCENT, "pc": PERCENT,
             "percentage points": "pp", "percentage point": "pp"},
    measures={
        "km": "km", "kilometres": "km", "kilometers": "km", "kilometre": "km", "kilometer": "km",
        "metres": "m", "meters": "m", "metre": "m", "meter": "m", "miles": "mi", "mile": "mi",
        "feet": "ft", "foot": "ft", "ft": "ft", "inches": "in", "centimetres": "cm", "cm": "cm",
        "millimetres": "mm", "mm": "mm", "hectares": "ha", "ha": "ha", "acres": "acre",
        "square kilometres": "km²", "square miles": "mi²", "kg": "kg", "kilograms": "kg",
        "tonnes": "t", "tons": "t", "litres": "l", "liters": "l", "gallons": "gal", "barrels": "bbl",
        "lb": "lb", "lbs": "lb", "ounces": "oz", "oz": "oz",
        "mph": "mph", "km/h": "km/h", "degrees": "°", "°c": "°C", "°f": "°F",
        "mw": "MW", "gw": "GW", "kw": "kW", "megawatts": "MW", "gigawatts": "GW",
    },
    attached_measures={"km": "km", "m": "m", "cm": "cm", "mm": "mm", "kg": "kg", "t": "t", "lb": "lb", "lbs": "lb",
                       "oz": "oz", "mph": "mph", "ha": "ha", "ft": "ft", "c": "°C", "f": "°F",
                       "mw": "MW", "gw": "GW", "kw": "kW", "mwh": "MWh", "gwh": "GWh"},
    range_joiners=("to", "-", "–", "—"),
    ratio_joiners=("in", "out of"),
    range_openers={"between": "and"},
    range_blockers=("from",),
    ordinal_suffixes=("st", "nd", "rd", "th"),
    age_before=("aged", "age", "ages", "the age of"),
    list_joiners=(",", "and", "or"),
    age_after=("year-old", "year-olds", "years-old", "year old", "years old", "yr-old", "month-old", "months old",
               "week-old", "weeks old", "day-old", "days old"),
    time_after=("am", "pm", "a.m.", "p.m.", "a.m", "p.m", "o'clock", "gmt", "utc", "bst", "cet", "cest",
                "et", "edt", "est", "pt", "pdt", "pst", "local time"),
    meridiems=("am", "pm", "o'clock"),
    decade_suffixes=("s",),
    months=("January", "February", "March", "April", "May", "June", "July", "August", "September",
            "October", "November", "December", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug",
            "Sep", "Sept", "Oct", "Nov", "Dec"),
    labels=("page", "pages", "p", "pp", "chapter", "section", "article", "paragraph", "clause", "no",
            "number", "room", "flight", "route", "highway", "interstate", "platform", "gate", "episode",
            "season", "version", "item", "figure", "table", "vol", "volume", "issue", "exhibit",
            "amendment", "bus", "line", "apartment", "suite", "block", "lot", "exit", "channel",
            "district", "ward", "precinct", "row", "seat", "pier", "terminal", "form", "unit", "#",
            "update", "phase", "part", "level", "stage", "tier", "bill", "proposition", "prop"),
    skipped=frozenset({"a", "an", "the", "were", "was", "are", "is", "have", "has", "had", "been", "be",
                       "being", "reportedly", "its", "their", "his", "her", "more", "other", "others",
                       "additional", "further", "another", "new", "so", "far", "still", "also", "only",
                       "just", "now", "all"}),
    boundaries=frozenset({"of", "to", "in", "on", "at", "when", "after", "before", "as", "because", "while",
                          "who", "which", "that", "and", "or", "for", "from", "by", "with", "since",
                          "during", "across", "near", "than", "but", "said", "says", "this", "last",
                          "into", "under", "over", "per", "each", "a", "an", "without", "within", "among",
                          "including", "through", "around", "about", "against", "like", "outside", "inside",
                          "across", "if", "then", "where", "will", "would", "could", "may",
                          "might", "should", "can"}),
    linking=frozenset({"rose", "risen", "climbed", "reached", "stood", "stands", "increased", "jumped",
                       "fell", "dropped", "hit", "now", "stand", "totals", "totalled", "totaled", "grew",
                       "is", "was", "were", "are", "has", "had", "have", "been", "be", "reach", "rise",
                       "put", "puts", "revised", "raised", "lowered", "up", "down", "of", "to", "by", "at", "some",
                       "nearly", "about", "around", "over", "than", "more", "least", "cost", "costs", "costing"}),
    determiners=frozenset({"the", "a", "an", "its", "their", "those", "these", "them", "his", "her"}),
    of="of",
    money_links=("in", "for", "of", "to"),
    decimal_mark=".",
    group_marks=",'\u00a0\u202f\u2009 ",
    casualty_verbs=("injuring", "injured", "killing", "killed", "wounding", "wounded", "hurting", "hurt",
                    "leaving", "rescued", "rescuing", "arrested", "arresting", "detained", "detaining"),
    verbs={"cut": "cut", "cuts": "cut", "cutting": "cut", "killing": "killed", "injuring": "injured",
           "wounding": "wounded", "hurting": "hurt", "hurt": "hurt", "leaving": "left", "left": "left",
           "losing": "lost", "lost": "lost", "shedding": "shed", "shed": "shed", "sending": "sent", "sent": "sent",
           "selling": "sold", "sold": "sold", "building": "built", "built": "built", "rescuing": "rescued",
           "arresting": "arrested", "detaining": "detained", "displacing": "displaced", "evacuating": "evacuated",
           "destroying": "destroyed", "damaging": "damaged", "stranding": "stranded", "trapping": "trapped",
           "affecting": "affected", "forcing": "forced", "burning": "burned", "burnt": "burned", "hiring": "hired",
           "axing": "axed", "slashing": "slashed", "raising": "raised"},
    head_prepositions=("in", "for", "from", "at", "on"),
    area_units=("ha", "acre", "km²", "mi²"),
    outcomes={(verb, word): "evacuated" for verb in ("forced", "ordered", "told")
              for word in ("leave", "flee", "evacuate")} | {("forced", "from"): "evacuated"},
)


def _capitalised(words: tuple[str, ...]) -> tuple[str, ...]:
    # Months are matched as written: lower case in French and Spanish, capitalised at a sentence's start.
    return words + tuple(word.capitalize() for word in words if not word[0].isupper())


# Units written the same way in every language that writes them after the number.
_SI = {"km": "km", "m": "m", "cm": "cm", "mm": "mm", "kg": "kg", "t": "t", "ha": "ha", "km/h": "km/h", "°c": "°C",
       "°f": "°F", "mw": "MW", "gw": "GW", "kw": "kW", "l": "l", "km²": "km²"}
_SI_GLUED = {"km": "km", "m": "m", "cm": "cm", "mm": "mm", "kg": "kg", "t": "t", "ha": "ha", "c": "°C",
             "mw": "MW", "gw": "GW", "kw": "kW", "mwh": "MWh", "gwh": "GWh"}
_GERMAN_UNITS = {"ein": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9}
_GERMAN_TENS = {"zwanzig": 20, "dreißig": 30, "dreissig": 30, "vierzig": 40, "fünfzig": 50, "sechzig": 60,
                "siebzig": 70, "achtzig": 80, "neunzig": 90}
_SPANISH_TWENTIES = {"veintiuno": 21, "veintiún": 21, "veintidós": 22, "veintitrés": 23, "veinticuatro": 24,
                     "veinticinco": 25, "veintiséis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29}

GERMAN = Tables(
    qualifiers={
        "mindestens": "≥", "wenigstens": "≥", "nicht weniger als": "≥",
        "mehr als": ">", "über": ">", "gut": ">", "weit über": ">",
        "fast": "<~", "knapp": "<~", "beinahe": "<~", "nahezu": "<~", "annähernd": "<~",
        "rund": "~", "etwa": "~", "ungefähr": "~", "circa": "~", "ca": "~", "zirka": "~", "geschätzt": "~",
        "schätzungsweise": "~",
        "bis zu": "≤", "höchstens": "≤", "maximal": "≤", "nicht mehr als": "≤",
        "weniger als": "<", "unter": "<",
    },
    trailing_qualifiers={"oder mehr": "≥", "und mehr": "≥"},
    number_words={
        "null": 0, "eins": 1, **{unit: value for unit, value in _GERMAN_UNITS.items() if unit != "ein"}, "zehn": 10,
        "elf": 11, "zwölf": 12, "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15, "sechzehn": 16, "siebzehn": 17,
        "achtzehn": 18, "neunzehn": 19, **_GERMAN_TENS,
        **{f"{unit}und{tens}": u + t for unit, u in _GERMAN_UNITS.items() for tens, t in _GERMAN_TENS.items()},
        **{f"{unit}hundert": u * 100 for unit, u in _GERMAN_UNITS.items()},
    },
    hundred=("hundert",),
    multipliers={"tausend": 1e3, "million": 1e6, "millionen": 1e6, "mio": 1e6, "milliarde": 1e9, "milliarden": 1e9,
                 "mrd": 1e9, "billion": 1e12, "billionen": 1e12},
    short_scales={},
    glued_scales={},
    collectives={"dutzend": 12},
    indefinite=("ein", "eine", "einer", "einen", "einem"),
    fractions={},
    denominators={},
    fraction_followers=(),
    joiner="und",
    vague={
        "dutzende": 12, "hunderte": 100, "tausende": 1e3, "zehntausende": 1e4, "hunderttausende": 1e5,
        "millionen": 1e6, "milliarden": 1e9, "mehrere hundert": 100, "einige hundert": 100,
        "mehrere tausend": 1e3, "einige tausend": 1e3, "mehrere millionen": 1e6,
    },
    weak=("eins",),
    currencies_before=ENGLISH.currencies_before,
    currencies_after={"euro": "EUR", "eur": "EUR", "dollar": "USD", "us-dollar": "USD", "usd": "USD",
                      "franken": "CHF", "chf": "CHF", "pfund": "GBP", "yen": "JPY"},
    currencies_after_scaled={},
    percent={"%": PERCENT, "prozent": PERCENT, "prozentpunkte": "pp", "prozentpunkt": "pp"},
    measures={**_SI, "kilometer": "km", "meter": "m", "zentimeter": "cm", "millimeter": "mm", "hektar": "ha",
              "quadratkilometer": "km²", "kilogramm": "kg", "kilo": "kg", "tonnen": "t", "tonne": "t", "liter": "l",
              "grad": "°", "megawatt": "MW", "gigawatt": "GW", "stundenkilometer": "km/h"},
    attached_measures=_SI_GLUED,
    range_joiners=("bis", "-", "–", "—"),
    ratio_joiners=("von",),
    range_openers={"zwischen": "und"},
    range_blockers=(),
    ordinal_suffixes=(),
    age_before=("im alter von", "alter von"),
    list_joiners=(",", "und", "oder"),
    age_after=("jährige", "jähriger", "jährigen", "jährigem", "jähriges", "jährig", "jahre alt", "jahr alt",
               "monate alt"),
    time_after=("uhr",),
    meridiems=("uhr",),
    decade_suffixes=("er",),
    months=("Januar", "Jänner", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
            "November", "Dezember", "Jan", "Feb", "Mär", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Okt", "Nov",
            "Dez"),
    labels=("seite", "seiten", "s", "kapitel", "artikel", "absatz", "paragraf", "paragraph", "§", "nr", "nummer",
            "linie", "gleis", "bundesstraße", "landesstraße", "kreisstraße", "zimmer", "raum", "flug", "folge",
            "staffel", "teil", "phase", "stufe", "warnstufe", "alarmstufe", "pflegegrad", "update", "version",
            "band", "ausgabe", "ziffer", "tor", "halle", "block", "bus", "#"),
    skipped=frozenset({"der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "weitere", "weiterer",
                       "weiteren", "neue", "neuen", "wurden", "wurde", "wird", "werden", "sind", "waren", "haben",
                       "hatten", "noch",
                       "bereits", "nur", "rund", "insgesamt", "alle"}),
    boundaries=frozenset({"von", "zu", "zum", "zur", "in", "im", "an", "am", "auf", "bei", "beim", "nach", "vor",
                          "als", "weil", "während", "wenn", "die", "der", "das", "und", "oder", "für", "aus", "mit",
                          "seit", "durch", "gegen", "ohne", "unter", "über", "pro", "je", "sagte", "sagt", "teilte",
                          "dass", "ob", "wie", "aber", "sowie", "um", "ums", "vom", "ins", "bis", "nicht", "sich", "es",
                          "sie", "er"}),
    linking=frozenset({"stieg", "gestiegen", "sank", "gesunken", "erreichte", "liegt", "lag", "beträgt", "betrug",
                       "ist", "war", "sind", "waren", "hat", "hatte", "wurde", "wurden", "auf", "um", "bei", "von",
                       "rund", "etwa", "mehr", "als", "nun", "jetzt", "inzwischen", "bislang", "bisher",
                       # verbs of a figure's change or estimate: "die Preise stiegen um 4 Prozent"
                       "stiegen", "sanken", "fiel", "fielen", "gefallen", "kletterte", "kletterten", "wuchs",
                       "wuchsen", "beziffert", "geschätzt", "erhöhte", "erhöht", "verringerte"}),
    determiners=frozenset({"der", "die", "den", "dem", "des", "ihre", "ihrer", "seine", "seiner", "diese", "dieser"}),
    of="von",
    money_links=("für", "in"),
    decimal_mark=",",
    group_marks=".'\u00a0\u202f\u2009 ",
    casualty_verbs=(),
    bare_scales=("tausend", "hundert"),
    framed_ages={"mit": ("jahren",)},
    superlative_articles=(),
    abbreviations=frozenset({"mio", "mrd", "ca", "bzw", "usw", "vgl", "nr", "str", "z.b", "u.a", "d.h", "inkl",
                             "evtl", "sog", "abs", "ggf", "tel", "dr", "prof", "st", "jh", "jhd", "mind", "max"}),
    ordinal_dot=True,
    area_units=("ha", "km²"),
    head_prepositions=("im", "in", "am", "für", "aus"),
    capitalised_nouns=True,
)

FRENCH = Tables(
    qualifiers={
        "au moins": "≥", "pas moins de": "≥", "au minimum": "≥",
        "plus de": ">", "plus d'": ">", "au-delà de": ">",
        "près de": "<~", "presque": "<~", "quasiment": "<~", "pas loin de": "<~",
        "environ": "~", "quelque": "~", "approximativement": "~", "autour de": "~", "une estimation de": "~",
        "jusqu'à": "≤", "au plus": "≤", "au maximum": "≤", "pas plus de": "≤",
        "moins de": "<", "moins d'": "<",
    },
    trailing_qualifiers={"ou plus": "≥", "et plus": "≥", "environ": "~"},
    number_words={
        "zéro": 0, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
        "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20,
        "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60,
    },
    hundred=("cent", "cents"),
    multipliers={"mille": 1e3, "million": 1e6, "millions": 1e6, "milliard": 1e9, "milliards": 1e9, "md": 1e9,
                 "mds": 1e9, "billion": 1e12, "billions": 1e12},
    short_scales={"m": 1e6, "md": 1e9, "mds": 1e9, "mrd": 1e9},
    glued_scales={},
    collectives={"douzaine": 12, "douzaines": 12},
    indefinite=("un", "une"),
    fractions={},
    denominators={},
    fraction_followers=(),
    joiner="et",
    vague={
        "dizaines": 10, "centaines": 100, "milliers": 1e3, "dizaines de milliers": 1e4,
        "centaines de milliers": 1e5, "millions": 1e6, "milliards": 1e9, "une dizaine": 10, "une quinzaine": 15,
        "une vingtaine": 20, "une trentaine": 30, "une quarantaine": 40, "une cinquantaine": 50,
        "une soixantaine": 60, "une centaine": 100, "un millier": 1e3, "plusieurs centaines": 100,
        "quelques centaines": 100, "plusieurs milliers": 1e3, "quelques milliers": 1e3, "plusieurs millions": 1e6,
    },
    weak=(),
    currencies_before=ENGLISH.currencies_before,
    currencies_after={"euros": "EUR", "euro": "EUR", "d'euros": "EUR", "eur": "EUR", "dollars": "USD",
                      "de dollars": "USD", "usd": "USD", "francs suisses": "CHF", "de francs suisses": "CHF",
                      "chf": "CHF", "livres sterling": "GBP", "de livres sterling": "GBP"},
    currencies_after_scaled={},
    percent={"%": PERCENT, "pour cent": PERCENT, "points de pourcentage": "pp", "point de pourcentage": "pp"},
    measures={**_SI, "kilomètres": "km", "kilomètre": "km", "mètres": "m", "mètre": "m", "centimètres": "cm",
              "millimètres": "mm", "hectares": "ha", "kilomètres carrés": "km²", "kilos": "kg", "kilogrammes": "kg",
              "tonnes": "t", "litres": "l", "degrés": "°", "mégawatts": "MW", "gigawatts": "GW"},
    attached_measures=_SI_GLUED,
    range_joiners=("à", "-", "–", "—"),
    ratio_joiners=("sur",),
    range_openers={"entre": "et"},
    range_blockers=("de", "d'"),
    ordinal_suffixes=("er", "re", "e", "ème", "eme", "nd", "nde"),
    age_before=("âgé de", "âgée de", "âgés de", "âgées de", "l'âge de", "âge de"),
    list_joiners=(",", "et", "ou"),
    age_after=(),
    time_after=("h",),
    meridiems=("h",),
    decade_suffixes=(),
    months=_capitalised(("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                         "octobre", "novembre", "décembre", "janv", "févr", "avr", "juil", "sept", "oct", "nov",
                         "déc")),
    labels=("page", "pages", "p", "chapitre", "article", "alinéa", "n", "n°", "numéro", "ligne", "route", "vol",
            "salle", "porte", "quai", "voie", "épisode", "saison", "partie", "phase", "niveau", "tome", "version",
            "acte", "bus", "#"),
    skipped=frozenset({"le", "la", "les", "l'", "un", "une", "des", "de", "d'", "ont", "a", "été", "sont", "étaient",
                       "autres", "nouveaux", "nouvelles", "déjà", "encore", "seulement", "tous", "toutes"}),
    boundaries=frozenset({"à", "au", "aux", "en", "dans", "sur", "sous", "par", "pour", "avec", "sans", "après",
                          "avant", "depuis", "pendant", "lors", "quand", "qui", "que", "qu'", "dont", "où", "et",
                          "ou", "mais", "selon", "a", "ont", "est", "sont", "était", "ce", "cette", "se", "s'",
                          "ne", "n'", "pas", "il", "elle", "ils", "elles", "vers", "entre", "contre", "chez"}),
    linking=frozenset({"atteint", "atteignait", "passé", "s'élève", "s'élevait", "est", "était", "sont", "a", "ont",
                       "été", "à", "de", "d'", "environ", "plus", "près", "désormais", "maintenant",
                       # verbs of a figure's change or estimate: "les prix ont augmenté de 4 %"
                       "augmenté", "baissé", "grimpé", "chuté", "progressé", "reculé", "diminué", "bondi", "monté",
                       "estimé", "estimée", "estimés", "estimées", "évalué", "évaluée", "évalués", "évaluées",
                       "chiffré", "chiffrée", "chiffrés", "chiffrées", "établi", "établie", "fixé", "fixée"}),
    determiners=frozenset({"le", "la", "les", "l'", "leurs", "leur", "ses", "ces"}),
    of="de",
    money_links=("pour", "de"),
    decimal_mark=",",
    group_marks=" \u00a0\u202f\u2009.",
    casualty_verbs=(),
    tens_joiner="et",
    bare_scales=("mille", "cent"),
    framed_ages={"de": ("ans",)},
    superlative_articles=(),
    abbreviations=frozenset({"md", "mds", "env", "av", "apr", "j.-c", "etc", "mme", "mmes", "mlle", "me", "dr",
                             "pr", "st", "ste", "art", "éd", "hab", "min", "max"}),
    area_units=("ha", "km²"),
)

SPANISH = Tables(
    qualifiers={
        "al menos": "≥", "por lo menos": "≥", "como mínimo": "≥", "no menos de": "≥",
        "más de": ">", "por encima de": ">",
        "casi": "<~", "cerca de": "<~", "poco menos de": "<~",
        "unos": "~", "unas": "~", "alrededor de": "~", "aproximadamente": "~", "en torno a": "~", "aprox": "~",
        "hasta": "≤", "como máximo": "≤", "no más de": "≤",
        "menos de": "<", "por debajo de": "<",
    },
    trailing_qualifiers={"o más": "≥"},
    number_words={
        "cero": 0, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9,
        "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15, "dieciséis": 16,
        "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, **_SPANISH_TWENTIES, "treinta": 30,
        "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90,
        "doscientos": 200, "doscientas": 200, "trescientos": 300, "trescientas": 300, "cuatrocientos": 400,
        "cuatrocientas": 400, "quinientos": 500, "quinientas": 500, "seiscientos": 600, "seiscientas": 600,
        "setecientos": 700, "setecientas": 700, "ochocientos": 800, "ochocientas": 800, "novecientos": 900,
        "novecientas": 900,
    },
    hundred=("cien", "ciento"),
    multipliers={"mil": 1e3, "millón": 1e6, "millones": 1e6, "billón": 1e12, "billones": 1e12},
    short_scales={"m": 1e6, "mm": 1e9},
    glued_scales={},
    collectives={"docena": 12, "docenas": 12},
    indefinite=("un", "una"),
    fractions={},
    denominators={},
    fraction_followers=(),
    joiner="y",
    vague={
        "decenas": 10, "cientos": 100, "centenares": 100, "miles": 1e3, "decenas de miles": 1e4,
        "cientos de miles": 1e5, "millones": 1e6, "miles de millones": 1e9, "una decena": 10, "una veintena": 20,
        "una treintena": 30, "una cuarentena": 40, "una cincuentena": 50, "un centenar": 100, "un millar": 1e3,
        "varios cientos": 100, "unos cientos": 100, "varios miles": 1e3, "unos miles": 1e3, "varios millones": 1e6,
    },
    weak=(),
    currencies_before=ENGLISH.currencies_before,
    currencies_after={"euros": "EUR", "euro": "EUR", "de euros": "EUR", "eur": "EUR", "dólares": "USD",
                      "de dólares": "USD", "usd": "USD", "libras": "GBP", "de libras": "GBP"},
    currencies_after_scaled={},
    percent={"%": PERCENT, "por ciento": PERCENT, "puntos porcentuales": "pp", "punto porcentual": "pp"},
    measures={**_SI, "kilómetros": "km", "kilómetro": "km", "metros": "m", "metro": "m", "centímetros": "cm",
              "milímetros": "mm", "hectáreas": "ha", "kilómetros cuadrados": "km²", "kilos": "kg", "kilogramos": "kg",
              "toneladas": "t", "litros": "l", "grados": "°", "megavatios": "MW", "gigavatios": "GW"},
    attached_measures=_SI_GLUED,
    range_joiners=("a", "-", "–", "—"),
    ratio_joiners=("de cada",),
    range_openers={"entre": "y"},
    range_blockers=("de",),
    ordinal_suffixes=("º", "ª", "er", "ero", "era"),
    age_before=("edad de", "a la edad de"),
    list_joiners=(",", "y", "o"),
    age_after=("años de edad",),
    time_after=("h",),
    meridiems=("h",),
    decade_suffixes=(),
    months=_capitalised(("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                         "setiembre", "octubre", "noviembre", "diciembre")),
    labels=("página", "páginas", "pág", "capítulo", "artículo", "apartado", "número", "núm", "nº", "n", "línea",
            "ruta", "vuelo", "sala", "puerta", "andén", "episodio", "temporada", "parte", "fase", "nivel", "tomo",
            "versión", "planta", "autobús", "#"),
    skipped=frozenset({"el", "la", "los", "las", "un", "una", "unos", "unas", "han", "ha", "sido", "fueron", "son",
                       "eran", "otros", "otras", "nuevos", "nuevas", "ya", "aún", "todavía", "solo", "todos",
                       "todas"}),
    boundaries=frozenset({"de", "del", "a", "al", "en", "con", "sin", "por", "para", "tras", "desde", "durante",
                          "ante", "bajo", "sobre", "entre", "hacia", "hasta", "contra", "según", "que", "quien",
                          "cuando", "donde", "y", "o", "pero", "mientras", "se", "no", "es", "son", "fue", "fueron",
                          "ha", "han", "él", "ella", "ellos", "ellas", "como"}),
    linking=frozenset({"alcanzó", "asciende", "ascendió", "llegó", "es", "era", "fue", "son", "eran", "ha", "han",
                       "a", "de", "en", "unos", "unas", "más", "casi", "ya", "ahora",
                       # verbs of a figure's change or estimate: "los precios subieron un 4 %"
                       "subió", "subieron", "bajó", "bajaron", "aumentó", "aumentaron", "cayó", "cayeron", "creció",
                       "crecieron", "un", "estimado", "estimada", "estimados", "estimadas", "cifrado", "cifrada",
                       "cifrados", "cifradas", "calculado", "calculada", "calculados", "calculadas"}),
    determiners=frozenset({"el", "la", "los", "las", "sus", "su", "estos", "estas"}),
    of="de",
    money_links=("para", "en", "de"),
    decimal_mark=",",
    group_marks=".\u00a0\u202f\u2009 ",
    casualty_verbs=(),
    tens_joiner="y",
    bare_scales=("mil", "cien", "ciento"),
    framed_ages={"de": ("años",), "los": ("años",)},
    date_links=("de",),
    superlative_articles=(),
    abbreviations=frozenset({"sr", "sra", "srta", "dña", "d", "ud", "uds", "ee.uu", "ee", "uu", "pág", "núm",
                             "aprox", "etc", "art", "av", "avda", "gral", "dr", "dra", "pdte", "min", "máx"}),
    area_units=("ha", "km²"),
)

LANGUAGES: dict[str, Tables] = {"en": ENGLISH, "de": GERMAN, "fr": FRENCH, "es": SPANISH}

# Digits grouped by spaces ("1 200") come first, so they stay one token, with the language's decimals.
_TOKEN_PATTERN = (r"\d{{1,3}}(?:[ \u00a0\u202f\u2009]\d{{3}})+(?!\d)(?:{decimal}\d+)?"
                  r"|\d+(?:[.,']\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*|\S")
_TOKEN = re.compile(_TOKEN_PATTERN.format(decimal=r"\."))
_HYPHENS = ("-", "‐", "‑")
_YEAR = re.compile(r"(1[5-9]|20)\d\d")


class _Token(NamedTuple):
    """A word, number or sign of a sentence, and where it stands in it."""

    # A tuple rather than a frozen dataclass: made for every token of every sentence read, it is made in half
    # the time, and its class in a fifth of the time dataclass takes to write one at import.

    text: str
    low: str
    start: int
    end: int
    attached: bool  # no space between this token and the one before


_POSSESSIVE = re.compile(r"['’]s$")


def _tokenize(sentence: str, pattern: re.Pattern = _TOKEN) -> list[_Token]:
    tokens, previous_end = [], -1
    for match in pattern.finditer(sentence):
        text = match.group(0)
        low = _POSSESSIVE.sub("", text.lower())  # "the 19-year-old’s death": the age phrase still reads
        tokens.append(_Token(text, low, match.start(), match.end(), match.start() == previous_end))
        previous_end = match.end()
    return tokens


def _is_number(token: _Token) -> bool:
    return token.text[0].isdecimal()


def _is_word(token: _Token) -> bool:
    return token.text[0].isalpha()


class _Phrases:
    """Phrases of one table, looked up by their first token; the longest match wins."""

    def __init__(self, table: dict | Iterable[str]):
        items = table.items() if isinstance(table, dict) else ((p, p) for p in table)
        self.by_first: dict[str, list[tuple[tuple[str, ...], object]]] = {}
        for phrase, value in items:
            words = tuple(t.low for t in _tokenize(phrase) if t.text not in _HYPHENS)
            self.by_first.setdefault(words[0], []).append((words, value))
        for entries in self.by_first.values():
            entries.sort(key=lambda entry: -len(entry[0]))

    def match(self, tokens: list[_Token], i: int, after_hyphen: bool = False) -> tuple[object, int] | None:
        """(value, index after the phrase) when a phrase starts at tokens[i]; hyphens in between are
        skipped, and before it too with after_hyphen ("34-year-old")."""
        while after_hyphen and i < len(tokens) and tokens[i].text in _HYPHENS and tokens[i].attached:
            i += 1
        if i >= len(tokens) or tokens[i].low not in self.by_first:
            return None
        for words, value in self.by_first[tokens[i].low]:
            j = i
            for word in words:
                while j < len(tokens) and tokens[j].text in _HYPHENS and word not in _HYPHENS:
                    j += 1
                if j >= len(tokens) or tokens[j].low != word:
                    break
                j += 1
            else:
                return value, j
        return None

    def ends_at(self, tokens: list[_Token], i: int) -> bool:
        """Whether a phrase ends right before tokens[i] (an optional full stop after it allowed)."""
        for back in range(1, 5):
            start = i - back
            if start < 0:
                break
            found = self.match(tokens, start)
            if found and (found[1] == i or (found[1] == i - 1 and tokens[i - 1].text == ".")):
                return True
        return False


@record
class _Compiled:
    """One language's tables with their phrases compiled for matching tokens."""

    tables: Tables
    qualifiers: _Phrases
    trailing: _Phrases
    vague: _Phrases
    currencies_before: _Phrases
    currencies_after: _Phrases
    currencies_after_scaled: _Phrases
    percent: _Phrases
    ratios: _Phrases
    measures: _Phrases
    age_after: _Phrases
    time_after: _Phrases
    labels: _Phrases
    age_before: _Phrases
    token: re.Pattern
    starters: frozenset[str]  # the words a quantity in words can start with ("two", "a" million, "half" a)


_COMPILED: dict[str, _Compiled] = {}


def _compiled(language: str) -> _Compiled:
    if language not in _COMPILED:
        if language not in LANGUAGES:
            raise LanguageError(language, LANGUAGES)
        t = LANGUAGES[language]
        _COMPILED[language] = _Compiled(
            t, _Phrases(t.qualifiers), _Phrases(t.trailing_qualifiers), _Phrases(t.vague),
            _Phrases(t.currencies_before), _Phrases(t.currencies_after), _Phrases(t.currencies_after_scaled),
            _Phrases(t.percent), _Phrases(t.ratio_joiners),
            _Phrases(t.measures), _Phrases(t.age_after), _Phrases(t.time_after), _Phrases(t.labels),
            _Phrases(t.age_before), re.compile(_TOKEN_PATTERN.format(decimal=re.escape(t.decimal_mark))),
            frozenset({*t.number_words, *t.indefinite, *t.fractions, *t.bare_scales}),
        )
    return _COMPILED[language]


def choose_language(language: str | None, fallback: str = "en") -> str:
    """The language a text is read in: its own (declared or guessed) when Redline has tables for it, else fallback."""
    return language if language in LANGUAGES else fallback


def get_tables(language: str) -> Tables:
    """The tables of language; LanguageError when it has none."""
    return _compiled(language).tables


@record
class Figure:
    """A number in a sentence with what qualifies it, its unit and what it counts.

    kind is "count" for a figure; "age", "year", "time", "date", "ordinal" and "id" are
    numbers kept apart. A range has value (its low end) and high.
    """

    text: str
    value: float
    qualifier: str | None
    unit: str | None
    subject: str
    start: int
    end: int
    high: float | None = None
    kind: str = COUNT
    approximate: bool = False  # "hundreds": value is a lower bound
    weak: bool = False  # a bare "one": compared when paired, never reported added or removed

    @property
    def middle(self) -> float:
        """The value a delta is measured from: the middle of a range, else the value."""
        return (self.value + self.high) / 2 if self.high is not None and self.high > self.value else self.value


@dataclass
class _Quantity:
    """A number read from tokens: its value, where it ends, and how it was written."""

    value: float  # the value of number words; unused for digits, read later from `digits`
    end: int  # token index after the quantity
    digits: str | None = None  # the digit token as written, when there is one
    scale: float = 1.0  # "million" after it
    approximate: bool = False
    weak: bool = False
    fraction: bool = False  # a share written in words: its unit is the percent


def _digits_value(raw: str, tables: Tables, prefer_decimal: bool) -> float | None:
    """The value of a digit token written with any grouping mark; the decimal mark followed by
    exactly three digits is read as a grouping mark ("1.200") unless a decimal is expected."""
    parts = re.split(r"\D", raw)
    marks = [c for c in raw if not c.isdecimal()]
    if not marks:
        return float(raw)
    grouped = 1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:])
    if len(set(marks)) > 1:  # "1,234.5" or "1.234,5": the last mark is the decimal one
        *groups, tail = parts
        if marks[-1] not in ".," or marks.count(marks[-1]) > 1:
            return None
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            return None
        return float("".join(groups) + "." + tail)
    mark = marks[0]
    if mark == tables.decimal_mark:
        if len(parts) > 2:
            return float("".join(parts)) if grouped else None
        if grouped and not prefer_decimal and parts[0] != "0":
            return float("".join(parts))
        return float(f"{parts[0]}.{parts[1]}")
    if mark in tables.group_marks:
        return float("".join(parts)) if grouped else None
    return None


def _read_words(tokens: list[_Token], i: int, tables: Tables) -> _Quantity | None:
    """Number words from tokens[i]: "forty-two", "two hundred and fifty", "a million", "half a dozen"."""
    n = len(tokens)

    def low(k: int) -> str:
        return tokens[k].low if k < n else ""

    j, fraction = i, 1.0
    if low(j) in tables.fractions and low(j + 1) in tables.indefinite:
        fraction, j = tables.fractions[low(j)], j + 1
    total, current, previous, seen = 0.0, 0.0, None, False
    scalers = set(tables.multipliers) | set(tables.collectives) | set(tables.hundred)
    if low(j) in tables.indefinite and low(j + 1) in scalers:
        current, previous, j = 1.0, "a", j + 1
    elif fraction != 1.0:
        return None
    elif low(j) in tables.bare_scales:
        current, previous = 1.0, "a"  # "mil personas": the scale alone is one of it
    last_scale = 1.0
    while j < n:
        word = low(j)
        if word in tables.number_words:
            value = tables.number_words[word]
            # "forty-two"; after a hyphen also a teen: French "soixante-dix" is seventy
            hyphenated = j > i and tokens[j - 1].text in _HYPHENS
            tens_then_unit = previous == "tens" and value < (20 if hyphenated else 10) and current % 10 == 0
            if previous not in (None, "hundred", "and", "multiplier") and not tens_then_unit:
                break
            current += value
            previous = "hundred" if value >= 100 else "tens" if value >= 20 and value % 10 == 0 else "unit"
        elif word in tables.hundred and previous in ("unit", "tens", "a"):
            current, previous = current * 100, "hundred"
        elif word in tables.multipliers and previous in ("unit", "tens", "hundred", "a", "collective"):
            last_scale = tables.multipliers[word]
            total, current, previous = total + current * last_scale, 0.0, "multiplier"
        elif word in tables.multipliers and previous == "multiplier" and tables.multipliers[word] > last_scale:
            last_scale *= tables.multipliers[word]  # "dos mil millones": a thousand millions
            total *= tables.multipliers[word]
        elif word in tables.collectives and previous in ("unit", "tens", "a"):
            current, previous = current * tables.collectives[word], "collective"
        elif tokens[j].text in _HYPHENS and previous == "tens" and low(j + 1) in tables.number_words:
            j += 1
            continue
        elif word == tables.joiner and previous in ("hundred", "multiplier") and low(j + 1) in tables.number_words:
            previous, j = "and", j + 1
            continue
        elif word == tables.tens_joiner and previous == "tens" and tables.number_words.get(low(j + 1), 10) < 10:
            j += 1  # "treinta y dos": the unit that follows is added to the tens
            continue
        else:
            break
        seen = True
        j += 1
    if not seen or previous == "and":
        return None
    value = (total + current) * fraction
    if previous == "multiplier" and total == value / fraction and current == 0 and last_scale > 1:
        return _Quantity(value / last_scale, j, scale=last_scale)  # "four million": the scale can carry over
    return _Quantity(value, j, weak=j == i + 1 and tokens[i].low in tables.weak)


def _read_fraction(tokens: list[_Token], i: int, tables: Tables) -> _Quantity | None:
    """ "a third of", "two-thirds of", "half the": a share, as a percentage (unit set by the caller)."""
    j, numerator = i, 1.0
    if tokens[j].low in tables.indefinite or tokens[j].low in tables.number_words:
        numerator = float(tables.number_words.get(tokens[j].low, 1))
        j += 1
        while j < len(tokens) and tokens[j].text in _HYPHENS:
            j += 1
    if j >= len(tokens) or tokens[j].low not in tables.denominators or (j == i and tokens[j].low != "half"):
        return None
    follower = tokens[j + 1].low if j + 1 < len(tokens) else ""
    if follower not in tables.fraction_followers or (follower != tables.of and tokens[j].low != "half"):
        return None
    return _Quantity(numerator / tables.denominators[tokens[j].low] * 100, j + 1, fraction=True)


def _read_quantity(tokens: list[_Token], i: int, c: _Compiled, currency: bool) -> _Quantity | None:
    """The quantity starting at tokens[i]: digits (with a scale), vague words or number words."""
    if i >= len(tokens):
        return None
    tables = c.tables
    vague = c.vague.match(tokens, i)
    if vague:
        end = vague[1] - (tokens[vague[1] - 1].low == tables.of)  # "scores of" needs its "of", but keeps it out
        return _Quantity(float(vague[0]), end, approximate=True)
    if not _is_number(tokens[i]):
        if tokens[i].low not in c.starters:
            return None  # most words: neither reader would take them
        return _read_fraction(tokens, i, tables) or _read_words(tokens, i, tables)
    j, scale = i + 1, 1.0
    nxt = tokens[j] if j < len(tokens) else None
    if nxt is not None and nxt.low in tables.multipliers:
        scale, j = tables.multipliers[nxt.low], j + 1
        if nxt.low in tables.abbreviations and j < len(tokens) and tokens[j].text == "." and tokens[j].attached:
            j += 1  # "40 Mio. Euro"
        if j < len(tokens) and tables.multipliers.get(tokens[j].low, 0) > scale:
            scale, j = scale * tables.multipliers[tokens[j].low], j + 1  # "3 mil millones"
    elif nxt is not None and currency and nxt.low in tables.short_scales and (nxt.attached or len(nxt.low) > 1):
        scale, j = tables.short_scales[nxt.low], j + 1
    elif nxt is not None and nxt.attached and nxt.text in tables.glued_scales:
        scale, j = tables.glued_scales[nxt.text], j + 1  # 420M, 3.5bn
    return _Quantity(0.0, j, digits=tokens[i].text, scale=scale)


def _resolve(quantity: _Quantity, tables: Tables, prefer_decimal: bool) -> float | None:
    """The quantity's value without its scale (None when the digits are not a number, as in 1.2.3)."""
    if quantity.digits is None:
        return quantity.value
    return _digits_value(quantity.digits, tables, prefer_decimal or quantity.scale != 1.0)


@dataclass
class _Found:
    """A figure found in a sentence, by token indexes: its value or range, qualifier, unit and kind."""

    start: int  # token indexes
    end: int
    first_number: int
    value: float = 0.0
    high: float | None = None
    qualifier: str | None = None
    unit: str | None = None
    kind: str = COUNT
    approximate: bool = False
    weak: bool = False


def _read_figure(tokens: list[_Token], i: int, c: _Compiled) -> _Found | None:
    """The number that starts at tokens[i] (with its qualifier and currency), or None."""
    tables = c.tables
    j, qualifier, unit, opener = i, None, None, None
    found = c.qualifiers.match(tokens, j)
    if found:
        qualifier, j = " ".join(t.low for t in tokens[j:found[1]] if t.text not in _HYPHENS), found[1]
    if j < len(tokens) and tokens[j].low in tables.range_openers:
        opener, j = tables.range_openers[tokens[j].low], j + 1
    found = c.currencies_before.match(tokens, j)
    if found and (not _is_word(tokens[j]) or tokens[j].text[0].isupper()) \
            and all(t.attached for t in tokens[j + 1:found[1]]):
        unit, j = str(found[0]), found[1]
    first = j
    if j >= len(tokens):  # a currency or qualifier that ends the sentence: no number follows
        return None
    date_end = _date_end(tokens, j)
    if date_end:
        return _Found(i, date_end, first, kind="date")
    quantity = _read_quantity(tokens, j, c, unit is not None)
    if quantity is None:
        return None
    if quantity.fraction:
        unit = PERCENT
    result = _Found(i, quantity.end, first, qualifier=qualifier, unit=unit,
                    approximate=quantity.approximate, weak=quantity.weak and not (qualifier or unit))
    ratio = _read_ratio(tokens, quantity, c) if unit is None and not opener else None
    if ratio is not None:
        result.unit, result.value, result.end = PERCENT, ratio[0], ratio[1]
        return _finish(tokens, result, ratio[1], c, quantity, None)
    second, joiner = _read_range_end(tokens, i, quantity, result, c, opener)
    if opener and second is None:
        return None  # "between 30" without its "and 40" starts no figure
    end = second.end if second else quantity.end
    prefer_decimal = c.percent.match(tokens, end, after_hyphen=True) is not None
    low = _resolve(quantity, tables, prefer_decimal)
    if low is None:
        result.kind, result.end = "id", end
        return result
    scale = quantity.scale
    if second is not None:
        high = _resolve(second, tables, prefer_decimal)
        if high is not None and scale == 1.0 and second.scale != 1.0 and low < high:
            scale = second.scale  # "3 to 4 million": the scale belongs to both ends
        if high is None:
            second = None
        elif low * scale < high * second.scale:
            result.high = high * second.scale
        elif joiner in _HYPHENS and quantity.digits and second.digits:
            result.high = high * second.scale  # a tally such as a 5-4 vote
        else:
            second = None
    result.value = low * scale
    return _finish(tokens, result, second.end if second else quantity.end, c, quantity, second)


def _read_ratio(tokens: list[_Token], quantity: _Quantity, c: _Compiled) -> tuple[float, int] | None:
    """(percentage, token index after) for "3 in 10", "one in five", "four out of five"; None otherwise."""
    joined = c.ratios.match(tokens, quantity.end)
    if joined is None or quantity.approximate or quantity.fraction:
        return None
    whole = _read_quantity(tokens, joined[1], c, False)
    if whole is None or whole.scale != 1.0 or whole.approximate or (whole.digits and not whole.digits.isdecimal()):
        return None
    part, total = _resolve(quantity, c.tables, False), _resolve(whole, c.tables, False)
    if part is None or not total or not 0 < part < total or (whole.digits and _YEAR.fullmatch(whole.digits)):
        return None
    return part * quantity.scale / total * 100, whole.end


def _date_end(tokens: list[_Token], i: int) -> int | None:
    """The token index after a date written with separators (2025-03-11, 11/03/2025), if one starts at i."""
    j, separators = i + 1, []
    while j + 1 < len(tokens) and tokens[j].text in ("/", "-") and tokens[j].attached \
            and _is_number(tokens[j + 1]) and tokens[j + 1].attached and tokens[j + 1].text.isdecimal():
        separators.append(tokens[j].text)
        j += 2
    if not _is_number(tokens[i]) or not tokens[i].text.isdecimal() or len(separators) < 2 or len(set(separators)) > 1:
        return None
    return j


def _read_range_end(tokens: list[_Token], i: int, quantity: _Quantity, result: _Found, c: _Compiled,
                    opener: str | None) -> tuple[_Quantity | None, str | None]:
    """The second quantity of "30 to 40", "30-40", "between 30 and 40", with the joiner between."""
    tables, j = c.tables, quantity.end
    if j >= len(tokens):
        return None, None
    joiner = tokens[j].low
    if not (joiner == opener if opener else joiner in tables.range_joiners):
        return None, None
    if not opener and i > 0 and tokens[i - 1].low in tables.range_blockers:
        return None, None  # "rose from 30 to 40": two figures
    following = tokens[j + 1].text if j + 1 < len(tokens) else ""
    if quantity.digits and _YEAR.fullmatch(quantity.digits) and not (following.isdecimal() and len(following) in (2, 4)):
        return None, None  # "rose in 2024 to 3,400 tonnes": a year does not start a range of counts
    k = j + 1
    if joiner in _HYPHENS and k + 2 < len(tokens) and tokens[k].low in tables.range_joiners \
            and tokens[k + 1].text in _HYPHENS:
        k += 2  # "2-to-1": a tally written out
    currency = c.currencies_before.match(tokens, k)
    if currency and currency[0] == result.unit:
        k = currency[1]
    if k >= len(tokens) or (joiner in _HYPHENS + ("–", "—") and _is_number(tokens[k]) != (quantity.digits is not None)):
        return None, None
    return _read_quantity(tokens, k, c, result.unit is not None), joiner


def _finish(tokens: list[_Token], result: _Found, j: int, c: _Compiled, quantity: _Quantity,
            second: _Quantity | None) -> _Found:
    """Read the markers after the quantity and decide what kind of number this is."""
    tables, n = c.tables, len(tokens)
    if quantity.digits and j + 1 < n and tokens[j].text in ":." and tokens[j].attached \
            and _is_number(tokens[j + 1]) and tokens[j + 1].attached and len(tokens[j + 1].text) == 2:
        after = c.time_after.match(tokens, j + 2)
        result.kind, result.end = "time", after[1] if after else j + 2  # 3:45, 15:30
        return result
    time = c.time_after.match(tokens, j)
    if time and quantity.digits and (tokens[j].attached or tokens[j].text.isupper() or time[1] > j + 1
                                     or tokens[j].low in tables.meridiems):
        result.kind, result.end = "time", time[1]  # 9am, 9 a.m., 0930 GMT (but not "9 et al.")
        if time[1] < n and tokens[time[1]].attached and tokens[time[1]].text.isdecimal() and time[1] == j + 1:
            result.end += 1  # 14h30: the minutes after the hour mark
        return result
    if tables.ordinal_dot and quantity.digits and quantity.digits.isdecimal() and j + 1 < n \
            and tokens[j].text == "." and tokens[j].attached:
        result.kind, result.end = "ordinal", j + 1  # "am 3. März", "zum 5. Mal"
        return result
    if quantity.digits and j < n and tokens[j].attached and tokens[j].low in tables.ordinal_suffixes:
        result.kind, result.end = "ordinal", j + 1
        return result
    if quantity.digits and j < n and tokens[j].attached and tokens[j].low in tables.decade_suffixes:
        result.kind, result.end = "year", j + 1  # the 1990s
        return result
    age = c.age_after.match(tokens, j, after_hyphen=True)
    if age:
        result.kind, result.end = "age", age[1]
        return result
    percent = c.percent.match(tokens, j, after_hyphen=True)
    if percent:
        result.unit, j = str(percent[0]), percent[1]
    elif result.unit is None:
        currency = c.currencies_after.match(tokens, j)
        if currency is None and quantity.scale != 1.0:
            currency = c.currencies_after_scaled.match(tokens, j)
        measure = c.measures.match(tokens, j)
        glued = tokens[j] if j < n and tokens[j].attached and quantity.digits else None
        if currency:
            result.unit, j = str(currency[0]), currency[1]
        elif glued is not None and glued.low in tables.attached_measures \
                and (len(glued.text) > 1 or glued.text.isupper() or glued.low in ("m", "t")):
            result.unit, j = tables.attached_measures[glued.low], j + 1
        elif measure:
            result.unit, j = str(measure[0]), measure[1]
    trailing = c.trailing.match(tokens, j, after_hyphen=True)
    if trailing and result.qualifier is None:
        result.qualifier = " ".join(t.low for t in tokens[j:trailing[1]] if t.text not in _HYPHENS)
        j = trailing[1]
    result.end = j
    result.kind = _classify(tokens, result, quantity, second, c)
    if result.kind == COUNT and (result.unit or result.qualifier):
        result.weak = False
    if result.weak and result.start > 0 and tokens[result.start - 1].low in tables.casualty_verbs:
        result.weak = False  # "injuring one officer": a casualty, not a manner of speaking
    return result


def _classify(tokens: list[_Token], result: _Found, quantity: _Quantity, second: _Quantity | None,
              c: _Compiled) -> str:
    """count, or the kind of number kept apart: year, age, date, id."""
    tables = c.tables
    i, first, end = result.start, result.first_number, result.end
    number = tokens[first]
    before = tokens[first - 1] if first > 0 else None
    after = tokens[end] if end < len(tokens) else None
    plain = result.unit is None and result.qualifier is None and quantity.scale == 1.0 and not result.approximate
    if quantity.digits:
        if after is not None and after.attached and _is_word(after):
            return "id"  # 4G, 3D, 737MAX
        if after is not None and after.text in _HYPHENS and after.attached and end + 1 < len(tokens) \
                and tokens[end + 1].attached and len(tokens[end + 1].text) == 1 and tokens[end + 1].text.isupper():
            return "id"  # 2-D, 3-D, 5-G
        glued_to_word = before is not None and number.attached and (
            _is_word(before) or before.text == "#"
            or (before.text in _HYPHENS and before.attached and first >= 2 and _is_word(tokens[first - 2])))
        if glued_to_word and result.unit is None:
            return "id"  # G7, COVID-19, F-35, #3
        if (after is not None and after.text == "/" and after.attached) or \
                (before is not None and before.text == "/" and number.attached):
            return "date"  # 11/03, 9/11
    if c.labels.ends_at(tokens, i):
        return "id"  # page 12, Route 9, No. 10
    if c.age_before.ends_at(tokens, i):
        return "age"  # aged 34, under the age of five (but "the ages of 12 victims" counts victims)
    if i > 0 and after is not None and after.low in tables.framed_ages.get(tokens[i - 1].low, ()):
        return "age"  # "un homme de 34 ans"
    if quantity.digits is None and plain and end + 2 < len(tokens) and tokens[end].low == tables.of \
            and tokens[end + 1].low in tables.superlative_articles and _superlative(tokens[end + 2].low):
        return "determiner"  # "two of the biggest clubs", "one of the largest fires": no count
    linked_month = after is not None and after.low in tables.date_links and _month_at(tokens, end + 1, tables)
    if plain and (_month_at(tokens, i - 1, tables) or _month_at(tokens, end, tables) or linked_month):
        return "date"
    if plain and quantity.digits and _YEAR.fullmatch(quantity.digits) and (
            second is None or (second.digits is not None and len(second.digits) in (2, 4))):
        return "year"
    if plain and quantity.digits and second is None and i >= 2 and tokens[i - 1].text == "," \
            and after is not None and after.text in ",)" and _is_word(tokens[i - 2]) \
            and result.value <= 120 and quantity.digits.isdecimal():
        return "age"  # "Anita Osei, 54, said", "the driver, 27, was": an age in apposition
    return COUNT


# Words ending in -est that are no superlatives (a third of the harvest is a share).
_NOT_SUPERLATIVE = frozenset({"harvest", "interest", "forest", "request", "protest", "contest", "conquest", "inquest",
                              "arrest", "chest", "guest", "quest", "west", "test", "rest", "nest", "vest", "crest",
                              "honest", "modest", "earnest", "manifest", "tempest", "suggest", "digest", "invest",
                              "attest", "detest", "unrest", "behest", "bequest"})


def _superlative(word: str) -> bool:
    return word in ("best", "worst", "most", "least") or (
        len(word) > 4 and word.endswith("est") and word not in _NOT_SUPERLATIVE)


def _month_at(tokens: list[_Token], k: int, tables: Tables) -> bool:
    if 0 <= k < len(tokens) and tokens[k].text in tables.months:
        return True
    return 1 <= k < len(tokens) and tokens[k].text == "." and tokens[k - 1].text in tables.months


def _subject(tokens: list[_Token], found: _Found, tables: Tables) -> str:
    """What the figure counts: the noun phrase after it, else the one before it (past a linking verb, and
    past a phrase that only qualifies it: "turnout in the referendum was 64%" counts turnout)."""
    if found.unit in tables.area_units:
        unit = next((t.low for t in tokens[found.first_number + 1:found.end]
                     if _is_word(t) and t.low not in tables.multipliers), found.unit)
        verb = _verb_before(tokens, found.start, tables)
        return f"{unit} {verb}" if verb else unit
    following = tokens[found.end:found.end + 8]
    linked = bool(following) and (following[0].low == tables.of or (
        _unit_class(found.unit, tables) == "money" and following[0].low in tables.money_links
        and len(following) > 1 and following[1].low not in tables.determiners))
    if linked:
        k = 1  # past "the" and a number: "6 of the 7 missing climbers" counts climbers
        while k < len(following) and (following[k].low in tables.determiners or _is_number(following[k])):
            k += 1
        following = following[k:] if k < len(following) and _is_word(following[k]) else []
    after = _phrase(following, tables)[:2]
    if len(after) == 1 and not linked:
        verb = _verb_before(tokens, found.start, tables)
        if verb:
            after.append(verb)
    if len(after) == 2:  # "forced 5,000 residents to leave their homes": what happened is an evacuation
        after[1] = next((tables.outcomes[after[1], t.low] for t in following[1:6]
                         if (after[1], t.low) in tables.outcomes), after[1])
    if after:
        return " ".join(after)
    preceding = list(reversed(tokens[max(0, found.start - 12):found.start]))
    before, end = _phrase_back(preceding, tables)
    if before and end < len(preceding) and preceding[end].low in tables.head_prepositions:
        before = _phrase_back(preceding[end + 1:], tables)[0] or before
    return " ".join(reversed(before[:2]))


def _phrase_back(preceding: list[_Token], tables: Tables) -> tuple[list[str], int]:
    """The noun phrase in tokens read backwards from a figure, past linking words and marks, and the index of
    the token that ends it."""
    start, passed = 0, tables.boundaries | tables.skipped | tables.linking
    while start < len(preceding) and (preceding[start].low in passed or (
            not _is_word(preceding[start]) and preceding[start].text not in ",;:()")):
        start += 1
    end = start
    while end < len(preceding) and (preceding[end].text in _HYPHENS or (
            _is_word(preceding[end]) and preceding[end].low not in tables.boundaries)):
        end += 1
    return _phrase(preceding[start:end], tables), end


def _phrase(tokens: list[_Token], tables: Tables) -> list[str]:
    kept = []
    for token in tokens:
        if token.text in _HYPHENS:
            continue
        if not _is_word(token) or token.low in tables.boundaries:
            break
        if tables.capitalised_nouns and not token.text[0].isupper():
            if kept:
                break
            continue  # German writes its nouns with a capital: a verb before the noun is passed over
        if token.low not in tables.skipped:
            kept.append(token.low)
    return kept


def _verb_before(tokens: list[_Token], start: int, tables: Tables) -> str | None:
    # "killed 12 people" -> "people killed": a participle right before a figure says what happened to it.
    if start == 0:
        return None
    word = tokens[start - 1]
    if word.low in tables.verbs:
        return tables.verbs[word.low]
    if _is_word(word) and word.low.endswith("ed") and len(word.low) > 4 and word.low not in tables.linking:
        return word.low
    return None


def read_numbers(sentence: str, language: str = "en") -> list[Figure]:
    """Every number in sentence with its kind: figures ("count") and the numbers kept apart."""
    c = _compiled(language)
    tokens = _tokenize(sentence, c.token)
    numbers, i = [], 0
    while i < len(tokens):
        found = _read_figure(tokens, i, c)
        if found is None:
            i += 1
            continue
        if found.kind == COUNT and numbers and numbers[-1].kind == "age" and _listed_after(tokens, found, numbers[-1], c):
            found.kind = "age"
        start, end = tokens[found.start].start, tokens[found.end - 1].end
        numbers.append(Figure(
            text=sentence[start:end], value=found.value, qualifier=found.qualifier, unit=found.unit,
            subject=_subject(tokens, found, c.tables) if found.kind == COUNT else "",
            start=start, end=end, high=found.high, kind=found.kind, approximate=found.approximate,
            weak=found.weak,
        ))
        i = found.end
    return numbers


def _listed_after(tokens: list[_Token], found: _Found, previous: Figure, c: _Compiled) -> bool:
    """Whether found is a plain number listed right after the previous one ("aged 19 and 22")."""
    between = [t for t in tokens[:found.start] if t.start >= previous.end]
    plain = found.unit is None and found.qualifier is None and not found.approximate
    return plain and bool(between) and all(t.low in c.tables.list_joiners for t in between)


def find_figures(sentence: str, language: str = "en") -> list[Figure]:
    """Every counted figure in sentence; ages, years, times, dates, ordinals and identifiers are left out."""
    return [figure for figure in read_numbers(sentence, language) if figure.kind == COUNT]


# --------------------------------------------------------------------------- comparing

SAME_SUBJECT = 0.5  # share of subject words two figures need to be taken for one another


def _meaning(figure: Figure, tables: Tables) -> str | None:
    if figure.qualifier is None:
        return None
    return tables.qualifiers.get(figure.qualifier) or tables.trailing_qualifiers.get(figure.qualifier)


def _key(figure: Figure, tables: Tables) -> tuple:
    """What must differ for a figure to have changed: not its wording ("$18m" is "$18 million"), but whether
    it is a count or a vague quantity ("one billion" is not "billions", though both start at a billion)."""
    high = None if figure.high is None else f"{figure.high:.9g}"
    return figure.unit, f"{figure.value:.9g}", high, _meaning(figure, tables), figure.approximate


def _unit_class(unit: str | None, tables: Tables) -> str:
    if unit is None:
        return "count"
    if unit in {*tables.currencies_before.values(), *tables.currencies_after.values(),
                *tables.currencies_after_scaled.values()}:
        return "money"
    return unit


def _compatible(a: Figure, b: Figure, tables: Tables) -> bool:
    return _unit_class(a.unit, tables) == _unit_class(b.unit, tables)


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _subject_similarity(a: Figure, b: Figure) -> float:
    left, right = {_stem(w) for w in a.subject.split()}, {_stem(w) for w in b.subject.split()}
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def _pair_by_subject(old: list[Figure], new: list[Figure], tables: Tables,
                     same_value: bool = False) -> list[tuple[Figure, Figure]]:
    """Figures of old and new taken for one another because they count the same thing (best first)."""
    scored = sorted(
        ((_subject_similarity(a, b), -abs(ai - bi), ai, bi)
         for ai, a in enumerate(old) for bi, b in enumerate(new)
         if _compatible(a, b, tables) and (not same_value or _key(a, tables) == _key(b, tables))),
        reverse=True,
    )
    pairs, used_old, used_new = [], set(), set()
    for score, _, ai, bi in scored:
        if score < SAME_SUBJECT:
            break
        if ai not in used_old and bi not in used_new:
            used_old.add(ai)
            used_new.add(bi)
            pairs.append((old[ai], new[bi]))
    return pairs


def _without(figures: list, pairs: list[tuple], side: int) -> list:
    taken = {id(pair[side]) for pair in pairs}
    return [f for f in figures if id(f) not in taken]


def _pair_in_sentence(old: list[Figure], new: list[Figure], tables: Tables):
    """Pairs of figures of two versions of one sentence, and the figures left unpaired on each side."""
    # Unchanged figures that count the same thing first, so "3 pounds and 3 ounces" pairs each 3 with its own.
    same = SequenceMatcher(None, [(_key(f, tables), f.subject) for f in old], [(_key(f, tables), f.subject) for f in new],
                           autojunk=False)
    unchanged = [(old[b.a + k], new[b.b + k]) for b in same.get_matching_blocks() for k in range(b.size)]
    old, new = _without(old, unchanged, 0), _without(new, unchanged, 1)
    matcher = SequenceMatcher(None, [_key(f, tables) for f in old], [_key(f, tables) for f in new], autojunk=False)
    pairs: list[tuple[Figure, Figure]] = unchanged
    left_old: list[Figure] = []
    left_new: list[Figure] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend(zip(old[i1:i2], new[j1:j2]))
            continue
        by_subject = _pair_by_subject(old[i1:i2], new[j1:j2], tables)
        gap_old, gap_new = _without(old[i1:i2], by_subject, 0), _without(new[j1:j2], by_subject, 1)
        pairs.extend(by_subject)
        # What is left at the same place of the sentence, in order, is the same figure rewritten.
        while gap_old and gap_new and _compatible(gap_old[0], gap_new[0], tables):
            pairs.append((gap_old.pop(0), gap_new.pop(0)))
        left_old.extend(gap_old)
        left_new.extend(gap_new)
    by_subject = _pair_by_subject(left_old, left_new, tables)
    return pairs + by_subject, _without(left_old, by_subject, 0), _without(left_new, by_subject, 1)


def _change(before: Figure | None, after: Figure | None, context: str, tables: Tables) -> Change | None:
    """The figure change from before to after (either may be None), or None when nothing that matters changed."""
    if before is not None and after is not None:
        if _key(before, tables) == _key(after, tables):
            return None
        subject = after.subject or before.subject
        if before.unit == after.unit and (before.value, before.high, before.approximate) == \
                (after.value, after.high, after.approximate):
            return Change("figure", before.text, after.text, context=context, subject=subject,
                          significance=0.0, detail="qualifier", delta=0.0, relative=0.0)
        delta = relative = None
        if before.unit == after.unit:
            delta = after.middle - before.middle
            relative = delta / before.middle if before.middle else None
        return Change("figure", before.text, after.text, context=context, subject=subject,
                      significance=abs(relative) if relative is not None else 1.0, detail="value",
                      delta=delta, relative=relative)
    figure = before or after
    if figure.weak:
        return None
    return Change("figure", before and before.text, after and after.text, context=context, subject=figure.subject,
                  significance=1.0, detail="removed" if after is None else "added")


def _amounts(figure: Figure) -> set[tuple]:
    # What a figure may stand for: its value and unit, and for "25m" also 25 million (metres or millions: in
    # a sentence that said "25 million" before, the same sum).
    amounts = {(figure.value, figure.high, figure.unit)}
    if figure.unit == "m":
        amounts.add((figure.value * 1e6, figure.high * 1e6 if figure.high is not None else None, None))
    return amounts


def _restated(rest: list[Figure], numbers: list[Figure], paired: list[Figure]) -> list[Figure]:
    """rest without the figures the other version of the sentence (its numbers, of every kind) still states,
    however spelt or read ("420M" and "420 million", "She was 63" and "at age 63", "40C (104F)" and "104F
    (40C)"): a figure whose value is unchanged is no change. Each number answers for one figure."""
    others = [number for number in numbers if number not in paired]
    kept = []
    for figure in rest:
        same = next((o for o in others if _amounts(figure) & _amounts(o)), None)
        if same is None:
            kept.append(figure)
        else:
            others.remove(same)
    return kept


def compare_aligned(pairs: Iterable[tuple[str | None, str | None]], language: str = "en") -> list[Change]:
    """Figure changes between two versions, given their aligned sentences as (old, new) pairs,
    with None on the side where a sentence was added or deleted.

    Figures are paired inside each edited sentence first; the figures left over, with
    those of added and deleted sentences, are then paired across sentences by subject,
    so a figure that moved to another sentence is compared rather than reported added
    and removed. Changes come in the order of the sentences.
    """
    tables = _compiled(language).tables
    found: list[tuple[float, Change]] = []
    left_old: list[tuple[Figure, str, float]] = []
    left_new: list[tuple[Figure, str, float]] = []
    # Numbers kept apart (ages, years ...) of deleted and added sentences, which may restate a figure of the
    # other side: "He was 71." rewritten "He died at the age of 71." shares too few words to be aligned.
    kept_old: list[Figure] = []
    kept_new: list[Figure] = []
    for index, (old, new) in enumerate(pairs):
        if old == new:
            continue
        # Each sentence is read once: its figures (counts) are paired, its other numbers can restate one.
        old_numbers = read_numbers(old, language) if old else []
        new_numbers = read_numbers(new, language) if new else []
        old_figures = [number for number in old_numbers if number.kind == COUNT]
        new_figures = [number for number in new_numbers if number.kind == COUNT]
        if not new:
            kept_old.extend(number for number in old_numbers if number.kind != COUNT)
        if not old:
            kept_new.extend(number for number in new_numbers if number.kind != COUNT)
        paired, rest_old, rest_new = _pair_in_sentence(old_figures, new_figures, tables)
        if old and new:
            rest_old = _restated(rest_old, new_numbers, [after for _, after in paired])
            rest_new = _restated(rest_new, old_numbers, [before for before, _ in paired])
        for before, after in paired:
            if change := _change(before, after, new, tables):
                found.append((index + after.start / 1e6, change))
        left_old.extend((f, old, index + f.start / 1e6) for f in rest_old)
        left_new.extend((f, new, index + f.start / 1e6) for f in rest_new)
    old_figures, new_figures = [f for f, _, _ in left_old], [f for f, _, _ in left_new]
    moved = _pair_by_subject(old_figures, new_figures, tables, same_value=True)
    rewritten = _pair_by_subject(_without(old_figures, moved, 0), _without(new_figures, moved, 1), tables)
    place = {id(f): (sentence, order) for f, sentence, order in left_old + left_new}
    for before, after in rewritten:
        sentence, order = place[id(after)]
        if change := _change(before, after, sentence, tables):
            found.append((order, change))
    paired = moved + rewritten
    for figure in _restated(_without(old_figures, paired, 0), kept_new, []):
        sentence, order = place[id(figure)]
        if change := _change(figure, None, sentence, tables):
            found.append((order, change))
    for figure in _restated(_without(new_figures, paired, 1), kept_old, []):
        sentence, order = place[id(figure)]
        if change := _change(None, figure, sentence, tables):
            found.append((order, change))
    return [change for _, change in sorted(found, key=lambda item: item[0])]


def compare_figures(old_sentence: str, new_sentence: str, language: str = "en") -> list[Change]:
    """Figure changes between two versions of one sentence: values, qualifiers, figures added or removed."""
    return compare_aligned([(old_sentence, new_sentence)], language)
