"""Every exception Redline raises; each message names the bad input."""


class RedlineError(Exception):
    """Base class of every error Redline raises on purpose."""


class ConfigError(RedlineError):
    """The configuration file is missing, unreadable or has a bad key or value."""

    def __init__(self, path, key, expected):
        self.path, self.key, self.expected = path, key, expected
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {expected}")


class FetchError(RedlineError):
    """A URL could not be fetched: network failure, refused address or bad response."""

    def __init__(self, url, reason):
        self.url, self.reason = url, reason
        super().__init__(f"{url}: {reason}")


class BlockedAddressError(FetchError):
    """A URL resolves to an address the network policy forbids (loopback, private, ...)."""


class ExtractionError(RedlineError):
    """A page held no article text worth keeping."""

    def __init__(self, source, reason):
        self.source, self.reason = source, reason
        super().__init__(f"{source}: {reason}")


class WallError(ExtractionError):
    """A page is a paywall, consent or bot-check page standing in for the article."""


class FeedError(RedlineError):
    """A feed could not be parsed into entries."""

    def __init__(self, location, reason):
        self.location, self.reason = location, reason
        super().__init__(f"{location}: {reason}")


class InvalidURLError(RedlineError):
    """A URL cannot be read as a trackable http(s) URL."""

    def __init__(self, url, reason):
        self.url, self.reason = url, reason
        super().__init__(f"{url!r}: {reason}")


class StorageError(RedlineError):
    """A write would break one of the archive's rules (merging an article that has versions, say)."""


class NotFoundError(RedlineError):
    """An article, version or source asked for is not in the database."""


class InputError(RedlineError):
    """A file or argument given on the command line cannot be used."""


class LanguageError(RedlineError):
    """Figures were asked for in a language that has no number tables."""

    def __init__(self, language, known):
        self.language = language
        super().__init__(f"language {language!r}: no figure tables (known: {', '.join(sorted(known))})")
