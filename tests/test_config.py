"""Tests for pipeline/config.py: loading, defaults, and the errors a bad file gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import (
    DATABASE_URL_VAR,
    DEFAULT_LADDER,
    ENV_VAR,
    NetworkSettings,
    load_settings,
    settings_from_dict,
)
from pipeline.errors import ConfigError

FULL = """\
[database]
path = "data/news.db"

[network]
allow_private = true
connect_timeout = "3s"
read_timeout = 12
max_bytes = 2000000
max_redirects = 3
user_agent = "Redline-test/1.0"
total_timeout = "2m"
max_connections = 4
host_connections = 1
host_delay = "2s"
max_crawl_delay = "10s"
allow_hosts = ["intranet.example", "10.0.0.5:8080", "[fd00::1]:443"]

[schedule]
ladder = [["3h", "15m"], ["1d", "1h"], ["7d", "3h"]]
jitter = 0.2
batch_size = 10
lease = "15m"

[diff]
ignore = ["^Advertisement$", "Updated \\\\d+ minutes ago"]

[[sources]]
name = "wire"
kind = "rss"
url = "https://news.example.org/feed.xml"

[[sources]]
name = "list"
kind = "urls"
url = "https://news.example.org/urls.txt"

[[sources]]
name = "map"
kind = "sitemap"
url = "https://news.example.org/sitemap.xml"
include = ["/news/", "/world/"]
exclude = "/video/"
robots = false
ladder = [["1d", "30m"], ["7d", "6h"]]

[[alerts]]
name = "figures"
urls = ["json://hooks.example.org/x"]
kinds = ["figure", "headline"]
keywords = ["toll"]
"""


def write(folder: Path, text: str, name: str = "redline.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(folder: Path, text: str) -> ConfigError:
    """The ConfigError raised by loading text as a config file, with its message checked for the path."""
    path = write(folder, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(path.resolve()) in str(caught.value)
    return caught.value


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch, tmp_path):
    """Each test starts in an empty folder with no $REDLINE_CONFIG."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv(DATABASE_URL_VAR, raising=False)
    monkeypatch.chdir(tmp_path)


# Defaults and a valid file ----------------------------------------------------------------

def test_defaults_without_a_file(tmp_path):
    settings = load_settings()
    assert settings.path is None
    assert settings.database == (tmp_path / "redline.db").resolve()
    assert settings.network == NetworkSettings()
    assert settings.network.allow_private is False
    assert settings.schedule.ladder == DEFAULT_LADDER
    assert settings.schedule.batch_size == 50
    assert settings.diff.ignore == ()
    assert settings.sources == ()
    assert settings.alerts == ()


def test_redline_toml_in_the_working_folder_is_picked_up(tmp_path):
    write(tmp_path, '[schedule]\nbatch_size = 7\n')
    settings = load_settings()
    assert settings.path == (tmp_path / "redline.toml").resolve()
    assert settings.schedule.batch_size == 7


def test_full_valid_file(tmp_path):
    path = write(tmp_path, FULL)
    settings = load_settings(path)

    assert settings.path == path.resolve()
    assert settings.network.allow_private is True
    assert settings.network.connect_timeout == 3.0
    assert settings.network.read_timeout == 12.0
    assert settings.network.max_bytes == 2_000_000
    assert settings.network.max_redirects == 3
    assert settings.network.user_agent == "Redline-test/1.0"
    assert settings.schedule.ladder == ((3 * 3600.0, 15 * 60.0), (86400.0, 3600.0), (7 * 86400.0, 3 * 3600.0))
    assert settings.schedule.jitter == 0.2
    assert settings.schedule.batch_size == 10
    assert settings.schedule.lease == 900.0
    assert settings.diff.ignore == ("^Advertisement$", r"Updated \d+ minutes ago")
    assert (settings.network.total_timeout, settings.network.max_connections, settings.network.host_connections,
            settings.network.host_delay, settings.network.max_crawl_delay) == (120.0, 4, 1, 2.0, 10.0)
    assert settings.network.allow_hosts == (("intranet.example", None), ("10.0.0.5", 8080), ("fd00::1", 443))
    assert [(s.name, s.kind, s.url) for s in settings.sources] == [
        ("wire", "rss", "https://news.example.org/feed.xml"),
        ("list", "urls", "https://news.example.org/urls.txt"),
        ("map", "sitemap", "https://news.example.org/sitemap.xml"),
    ]
    wire, _, sitemap = settings.sources
    assert (wire.include, wire.exclude, wire.robots, wire.ladder) == ((), (), True, None)
    assert (sitemap.include, sitemap.exclude, sitemap.robots) == (("/news/", "/world/"), ("/video/",), False)
    assert sitemap.ladder == ((86400.0, 1800.0), (7 * 86400.0, 6 * 3600.0))
    assert settings.schedule_for(sitemap).ladder == sitemap.ladder
    assert settings.schedule_for(sitemap).jitter == settings.schedule.jitter
    assert settings.schedule_for(wire) is settings.schedule and settings.schedule_for(None) is settings.schedule
    (rule,) = settings.alerts
    assert rule.name == "figures"
    assert rule.urls == ("json://hooks.example.org/x",)
    assert rule.kinds == ("figure", "headline")
    assert rule.keywords == ("toll",)


@pytest.mark.parametrize("value, seconds", [
    (90, 90.0), (2.5, 2.5), ("45s", 45.0), ("15m", 900.0), ("3h", 10800.0), ("7d", 604800.0), ("1.5h", 5400.0),
])
def test_durations(tmp_path, value, seconds):
    settings = settings_from_dict({"schedule": {"lease": value}}, tmp_path / "redline.toml")
    assert settings.schedule.lease == seconds


def test_rule_defaults_and_single_string_url(tmp_path):
    settings = load_settings(write(tmp_path, '[[alerts]]\nname = "r"\nurls = "json://h/x"\n'))
    assert settings.alerts[0].urls == ("json://h/x",)
    assert settings.alerts[0].kinds == ("figure",)
    assert settings.alerts[0].keywords == ()


def test_every_rule_key(tmp_path):
    settings = load_settings(write(tmp_path, """
[[sources]]
name = "wire"
kind = "rss"
url = "https://news.example.org/feed.xml"

[[alerts]]
name = "tolls"
urls = ["json://hooks.example.org/x", "ntfy://topic"]
kinds = ["figure", "gone", "stealth_edit"]
keywords = ["killed"]
pattern = "death toll|killed"
sources = ["wire"]
figure_changes = ["value"]
min_change = 5
min_relative = "10%"
direction = "up"
debounce = "15m"
template = "{{ before }} → {{ after }}: {{ context }} ({{ title }}) {{ link }}"
diff_link = "https://redline.example.org/a/{article_id}/{from_version}..{to_version}"
"""))
    (rule,) = settings.alerts
    assert (rule.pattern, rule.sources, rule.figure_changes) == ("death toll|killed", ("wire",), ("value",))
    assert (rule.min_change, rule.min_relative, rule.direction, rule.debounce) == (5.0, 0.1, "up", 900.0)
    assert rule.template.startswith("{{ before }}")
    assert rule.diff_link.endswith("{from_version}..{to_version}")
    assert rule.has_threshold


def test_rule_thresholds_default_to_none(tmp_path):
    (rule,) = load_settings(write(tmp_path, '[[alerts]]\nname = "r"\nurls = "json://h/x"\n')).alerts
    assert (rule.pattern, rule.sources, rule.template, rule.diff_link, rule.debounce) == (None, (), None, None, 0.0)
    assert rule.figure_changes == ("value", "qualifier", "added", "removed")
    assert not rule.has_threshold
    (share,) = load_settings(write(tmp_path, '[[alerts]]\nname = "r"\nurls = "json://h/x"\nmin_relative = 0.25\n')).alerts
    assert share.min_relative == 0.25


def test_a_template_error_says_where(tmp_path):
    error = config_error(tmp_path, '[[alerts]]\nname = "r"\nurls = "json://h/x"\ntemplate = "{% if %}"\n')
    assert "a Jinja2 template" in str(error) and "line 1" in str(error)


def test_an_unknown_rule_source_names_the_configured_ones(tmp_path):
    error = config_error(tmp_path, '[[sources]]\nname = "wire"\nkind = "rss"\nurl = "https://x.example/f"\n'
                                   '[[alerts]]\nname = "r"\nurls = "json://h/x"\nsources = ["wrie"]\n')
    assert "names of configured sources (wire), got 'wrie'" in str(error)


def test_database_path_is_relative_to_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    path = write(folder, '[database]\npath = "data/news.db"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings(path).database == (folder / "data" / "news.db").resolve()


def test_absolute_database_path_is_kept(tmp_path):
    target = tmp_path / "abs" / "x.db"
    path = write(tmp_path, f'[database]\npath = "{target.as_posix()}"\n')
    assert load_settings(path).database == target.resolve()


def test_a_database_url_puts_the_archive_on_postgresql_and_the_environment_wins(tmp_path, monkeypatch):
    path = write(tmp_path, '[database]\nurl = "postgresql://redline:secret@db.example:5432/news"\n')
    settings = load_settings(path)
    assert settings.database_url == "postgresql://redline:secret@db.example:5432/news"
    assert settings.archive == "postgresql://redline:****@db.example:5432/news"  # what messages show
    monkeypatch.setenv(DATABASE_URL_VAR, "postgresql://other/archive")
    assert load_settings(path).database_url == "postgresql://other/archive"
    assert load_settings().database_url == "postgresql://other/archive"  # with no file too


def test_a_database_url_that_is_not_postgresql_is_an_error_that_hides_its_password(tmp_path, monkeypatch):
    (tmp_path / "bad").mkdir()
    error = config_error(tmp_path / "bad", '[database]\nurl = "mysql://u:secret@h/db"\n')
    assert error.key == "database.url" and "a postgresql:// URL" in str(error) and "secret" not in str(error)
    monkeypatch.setenv(DATABASE_URL_VAR, "sqlite:///x.db")
    with pytest.raises(ConfigError, match=f"{DATABASE_URL_VAR}.*a postgresql:// URL"):
        load_settings()


# Which file is read -----------------------------------------------------------------------

def test_env_var_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, '[schedule]\nbatch_size = 3\n', name="from-env.toml")
    monkeypatch.setenv(ENV_VAR, str(path))
    settings = load_settings()
    assert settings.path == path.resolve()
    assert settings.schedule.batch_size == 3


def test_env_var_beats_the_working_folder_file(tmp_path, monkeypatch):
    write(tmp_path, '[schedule]\nbatch_size = 1\n')
    monkeypatch.setenv(ENV_VAR, str(write(tmp_path, '[schedule]\nbatch_size = 2\n', name="env.toml")))
    assert load_settings().schedule.batch_size == 2


def test_explicit_path_beats_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(write(tmp_path, '[schedule]\nbatch_size = 2\n', name="env.toml")))
    explicit = write(tmp_path, '[schedule]\nbatch_size = 5\n', name="explicit.toml")
    assert load_settings(explicit).schedule.batch_size == 5


def test_env_var_pointing_at_a_missing_file_is_an_error(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(ConfigError, match="not found") as caught:
        load_settings()
    assert str(missing.resolve()) in str(caught.value)


# Bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, key", [
    ('[netwrok]\nallow_private = true\n', "netwrok"),
    ('[network]\nallow_privat = true\n', "network.allow_privat"),
    ('[network]\nallow_private = "yes"\n', "network.allow_private"),
    ('[network]\nmax_bytes = 1.5\n', "network.max_bytes"),
    ('[network]\nread_timeout = "soon"\n', "network.read_timeout"),
    ('[network]\nconnect_timeout = -1\n', "network.connect_timeout"),
    ('[schedule]\nbatch_size = 0\n', "schedule.batch_size"),
    ('[schedule]\nbatch_size = -4\n', "schedule.batch_size"),
    ('[schedule]\njitter = 1\n', "schedule.jitter"),
    ('[schedule]\nladder = [["1d", "1h"], ["3h", "15m"]]\n', "schedule.ladder"),
    ('[schedule]\nladder = []\n', "schedule.ladder"),
    ('[[sources]]\nname = "a"\nkind = "json"\nurl = "https://x.example/f"\n', "sources[0].kind"),
    ('[[sources]]\nname = "a"\nkind = "rss"\n', "sources[0].url"),
    ('[[sources]]\nname = "a"\nkind = "rss"\nurl = ""\n', "sources[0].url"),
    ('[[alerts]]\nname = "r"\nurls = ["json://h/x"]\nkinds = ["typo"]\n', "alerts[0].kinds"),
    ('[[alerts]]\nname = "r"\n', "alerts[0].urls"),
    ('[sources]\nname = "a"\n', "sources"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\npattern = "(unclosed"\n', "alerts[0].pattern"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\nfigure_changes = ["grew"]\n', "alerts[0].figure_changes"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\nmin_change = -1\n', "alerts[0].min_change"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\nmin_relative = "ten percent"\n', "alerts[0].min_relative"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\ndirection = "sideways"\n', "alerts[0].direction"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\ndebounce = "soon"\n', "alerts[0].debounce"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\ntemplate = "{{ before "\n', "alerts[0].template"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\ndiff_link = "https://r.example/{article}"\n', "alerts[0].diff_link"),
    ('[[alerts]]\nname = "r"\nurls = "json://h/x"\nsources = ["nosuch"]\n', "alerts[0].sources"),
    ('[network]\nallow_hosts = ["http://intranet.example/feed"]\n', "network.allow_hosts"),
    ('[network]\nallow_hosts = ["intranet.example:port"]\n', "network.allow_hosts"),
    ('[network]\nhost_connections = 0\n', "network.host_connections"),
    ('[network]\nhost_delay = "a while"\n', "network.host_delay"),
    ('[[sources]]\nname = "a"\nkind = "rss"\nurl = "https://x.example/f"\ninclude = ["(news"]\n', "sources[0].include"),
    ('[[sources]]\nname = "a"\nkind = "rss"\nurl = "https://x.example/f"\nrobots = "no"\n', "sources[0].robots"),
    ('[[sources]]\nname = "a"\nkind = "rss"\nurl = "https://x.example/f"\nladder = [["1h"]]\n', "sources[0].ladder"),
    ('[[sources]]\nname = "a"\nkind = "rss"\nurl = "https://x.example/f"\nrobot = false\n', "sources[0].robot"),
])
def test_bad_value_names_file_and_key(tmp_path, text, key):
    error = config_error(tmp_path, text)
    assert error.key == key
    assert f": {key}:" in str(error)


def test_wrong_type_message_says_what_was_expected(tmp_path):
    error = config_error(tmp_path, '[network]\nallow_private = "true"\n')
    assert "true or false" in str(error)
    assert "'true'" in str(error)


def test_duplicate_source_names(tmp_path):
    source = '[[sources]]\nname = "wire"\nkind = "rss"\nurl = "https://x.example/{}"\n'
    error = config_error(tmp_path, source.format("a") + source.format("b"))
    assert error.key == "sources[1].name"
    assert "'wire'" in str(error)


def test_bad_regex_in_diff_ignore(tmp_path):
    error = config_error(tmp_path, '[diff]\nignore = ["fine", "(unclosed"]\n')
    assert error.key == "diff.ignore"
    assert "regular expression" in str(error)


def test_walls_shrink_and_a_source_s_own_ignore_patterns(tmp_path):
    settings = load_settings(write(tmp_path, (
        '[diff]\nwalls = ["Courier Plus: log in"]\nshrink = 0.3\n\n'
        '[[sources]]\nname = "wire"\nkind = "rss"\nurl = "https://x.example/f"\nignore = "^Deals:"\n')))
    assert (settings.diff.walls, settings.diff.shrink) == (("Courier Plus: log in",), 0.3)
    assert settings.source("wire").ignore == ("^Deals:",)
    assert (settings_from_dict({}).diff.shrink, settings_from_dict({}).diff.walls) == (0.5, ())


@pytest.mark.parametrize("text, key, expected", [
    ('[diff]\nwalls = ["(unclosed"]\n', "diff.walls", "regular expression"),
    ('[diff]\nshrink = 1.5\n', "diff.shrink", "up to (not including) 1"),
    ('[[sources]]\nname = "a"\nkind = "rss"\nurl = "https://x.example/f"\nignore = ["[z-a]"]\n',
     "sources[0].ignore", "regular expression"),
    ('[database]\nsynchronous = "off"\n', "database.synchronous", "one of normal, full"),
])
def test_bad_walls_shrink_source_ignore_or_synchronous_name_the_key(tmp_path, text, key, expected):
    error = config_error(tmp_path, text)
    assert error.key == key and expected in str(error)


def test_alert_rules_accept_the_new_change_kinds(tmp_path):
    settings = load_settings(write(tmp_path, (
        '[[alerts]]\nname = "r"\nurls = ["json://h/x"]\nkinds = ["quote", "published", "modified"]\n')))
    assert settings.alerts[0].kinds == ("quote", "published", "modified")


def test_invalid_toml(tmp_path):
    error = config_error(tmp_path, '[network\nallow_private = true\n')
    assert error.key is None
    assert "not valid TOML" in str(error)


def test_missing_file(tmp_path):
    missing = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="file not found") as caught:
        load_settings(missing)
    assert str(missing.resolve()) in str(caught.value)


def test_settings_from_dict_without_a_path_says_so():
    with pytest.raises(ConfigError, match=r"^<settings>: schedule\.batch_size:"):
        settings_from_dict({"schedule": {"batch_size": 0}})


# Settings.source --------------------------------------------------------------------------

def test_source_by_name(tmp_path):
    settings = load_settings(write(tmp_path, FULL))
    assert settings.source("list").url == "https://news.example.org/urls.txt"


def test_unknown_source_name(tmp_path):
    path = write(tmp_path, FULL)
    with pytest.raises(ConfigError) as caught:
        load_settings(path).source("missing")
    assert caught.value.key == "sources.missing"
    assert str(path.resolve()) in str(caught.value)


def test_unknown_source_name_without_a_file():
    with pytest.raises(ConfigError, match="sources.missing"):
        settings_from_dict({}).source("missing")


def test_settings_are_frozen():
    settings = settings_from_dict({})
    with pytest.raises(AttributeError):
        settings.schedule.batch_size = 1  # type: ignore[misc]


# Every TOML example in the README and the docs must parse and load -------------------------

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def toml_examples() -> list:
    import re

    found = []
    for document in DOCUMENTS:
        for number, block in enumerate(re.findall(r"```toml\n(.*?)```", document.read_text(encoding="utf-8"),
                                                  re.DOTALL), 1):
            found.append(pytest.param(block, id=f"{document.name}#{number}"))
    return found


def test_the_readme_has_toml_examples():
    assert len(toml_examples()) >= 1


@pytest.mark.parametrize("block", toml_examples())
def test_every_toml_example_of_the_docs_loads(tmp_path, block):
    path = tmp_path / "redline.toml"
    path.write_text(block, encoding="utf-8")
    settings = load_settings(path)  # TOML syntax, keys and values all checked
    assert settings.path == path.resolve()


def test_the_readme_example_sets_every_key_of_every_section():
    # A key added to a section and left out of the README would go undocumented.
    import tomllib
    from dataclasses import fields, is_dataclass

    from pipeline.config import DatabaseSettings, RuleSettings, Settings, SourceSettings

    [readme] = [p.values[0] for p in toml_examples() if p.id == "README.md#1"]
    data = tomllib.loads(readme)
    # every section of Settings (a new one too), and [database], whose keys Settings spreads over its own fields
    sections = [(f.name, type(f.default)) for f in fields(Settings) if is_dataclass(f.default)]
    assert {"network", "schedule", "diff", "delivery", "web"} <= {name for name, _ in sections}
    for section, cls in [("database", DatabaseSettings), *sections]:
        assert {f.name for f in fields(cls)} - {"user_agent"} <= set(data[section]), section
    assert {f.metadata.get("key") or f.name for f in fields(SourceSettings)} <= set().union(*data["sources"])
    assert {f.name for f in fields(RuleSettings)} <= set(data["alerts"][0])


@pytest.mark.parametrize("url", ["/home/me/urls.txt", "file:///home/me/urls.txt", "ftp://x.example/list"])
def test_a_source_url_must_be_http_and_the_error_says_how_to_read_a_local_file(tmp_path, url):
    path = tmp_path / "redline.toml"
    path.write_text(f'[[sources]]\nname = "local"\nkind = "urls"\nurl = "{url}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.url: expected an http\(s\) URL.*http\.server"):
        load_settings(path)


def test_new_sections_keep_todays_values_as_defaults():
    settings = settings_from_dict({})
    assert (settings.delivery.max_attempts, settings.delivery.first_retry, settings.delivery.channels) == (10, 60.0, 8)
    assert (settings.schedule.failure_backoff, settings.schedule.failing_after) == (900.0, 5)
    assert (settings.network.robots_ttl, settings.network.max_resolved, settings.network.sitemap_children) == (
        86400.0, 50, 10)
    assert settings.diff.language == "en"


def test_an_unknown_figure_language_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"diff\.language: expected a language with figure tables \(de, en, es, fr\)"):
        settings_from_dict({"diff": {"language": "xx"}})


def test_diff_for_adds_a_sources_noise_patterns_to_the_global_ones():
    settings = settings_from_dict({"diff": {"ignore": ["^A$"]},
                                   "sources": [{"name": "s", "kind": "rss", "url": "https://x.example/f",
                                                "ignore": ["^B$"]}]})
    assert settings.diff_for(settings.sources[0]).ignore == ("^A$", "^B$")
    assert settings.diff_for(None) is settings.diff


@pytest.mark.parametrize("url, reason", [("foo://secret-token@host/x", "foo:// is not a scheme Apprise knows"),
                                         ("secret-token", "no scheme:// at its start")])
def test_an_alert_url_apprise_cannot_send_to_is_refused_without_showing_it(tmp_path, url, reason):
    with pytest.raises(ConfigError, match=r"alerts\[0\]\.urls: expected an Apprise URL it knows") as caught:
        load_settings(write(tmp_path, f'[[alerts]]\nname = "r"\nurls = ["{url}"]\n'))
    assert reason in str(caught.value) and "secret-token" not in str(caught.value)


def test_a_source_url_takes_its_credentials_from_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, '[[sources]]\nname = "paid"\nkind = "rss"\n'
                           'url = "https://reader:${FEED_PASSWORD}@feeds.example/feed?apikey=${FEED_KEY}"\n')
    monkeypatch.setenv("FEED_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("FEED_KEY", "k3y-value")
    assert load_settings(path).sources[0].url == "https://reader:s3cret-pass@feeds.example/feed?apikey=k3y-value"
    monkeypatch.delenv("FEED_KEY")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.url: expected an environment variable FEED_KEY") as caught:
        load_settings(path)
    assert "s3cret" not in str(caught.value)


def test_a_command_that_sends_nothing_can_skip_asking_apprise_about_channels(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path, '[[alerts]]\nname = "r"\nurls = ["foo://secret-token@host/x"]\n')
    assert load_settings(path, channels=False).alerts[0].urls == ("foo://secret-token@host/x",)
    with pytest.raises(ConfigError, match=r"alerts\[0\]\.urls: expected an Apprise URL it knows"):
        load_settings(path)  # by default, and for every command that sends
    code = (f"import sys; from pipeline.config import load_settings; load_settings({str(path)!r}, channels=False); "
            "print('apprise' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
