"""The one check of a crawl's settings (linkgraph/crawl/config.py), in process."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings
from scrapy.settings import default_settings

from linkgraph import settings as project_settings
from linkgraph.crawl.config import KNOWN_NAMES, SCRAPY_SETTINGS, check_settings, parse_settings
from linkgraph.errors import UsageError


def project(**overrides: object) -> Settings:
    settings = Settings()
    settings.setmodule("linkgraph.settings")
    settings.setdict({"LINKGRAPH_OUTPUT": "out", **overrides}, priority="cmdline")
    return settings


def test_project_defaults_pass_and_every_rule_names_a_scrapy_setting():
    check_settings(project())
    assert not [name for name in SCRAPY_SETTINGS if not hasattr(default_settings, name)]


@pytest.mark.parametrize("name", sorted(SCRAPY_SETTINGS))
def test_every_checked_scrapy_setting_refuses_a_word(name):
    with pytest.raises(UsageError, match=f"^{name} must be "):
        check_settings(project(**{name: "many"}))


@pytest.mark.parametrize("name, value", [
    ("CONCURRENT_REQUESTS", "0"), ("CONCURRENT_REQUESTS", "2.5"), ("DOWNLOAD_TIMEOUT", "0"),
    ("DOWNLOAD_TIMEOUT", "inf"), ("DOWNLOAD_DELAY", "-1"), ("DOWNLOAD_DELAY", "nan"),
    ("AUTOTHROTTLE_TARGET_CONCURRENCY", "0"), ("RETRY_TIMES", "-1"), ("LOG_LEVEL", "debug"),
    ("LINKGRAPH_FLUSH_SECONDS", "nan"), ("LINKGRAPH_FLUSH_SECONDS", "-inf"),
    ("LINKGRAPH_FLUSH_PAGES", "0"), ("LINKGRAPH_MAX_CRAWL_DELAY", "nan"),
    ("LINKGRAPH_PROGRESS_INTERVAL", "inf"), ("LINKGRAPH_RENDER_TIMEOUT", "nan"),
    ("LINKGRAPH_RESOLVE_ONLY", "maybe"), ("LINKGRAPH_MAX_PAGES", "1e3"),
])
def test_out_of_range_values_are_refused(name, value):
    with pytest.raises(UsageError, match=f"^{name} must be "):
        check_settings(project(**{name: value}))


@pytest.mark.parametrize("name, value, field, expected", [
    ("CONCURRENT_REQUESTS", "1", None, None), ("DOWNLOAD_TIMEOUT", "0.5", None, None),
    ("ROBOTSTXT_OBEY", "false", None, None), ("LOG_LEVEL", "DEBUG", None, None),
    ("LINKGRAPH_FLUSH_SECONDS", "0", "flush_seconds", 0.0),
    ("LINKGRAPH_FLUSH_PAGES", " 7 ", "flush_pages", 7),
    ("LINKGRAPH_COMPACT", "0", "compact", False),
    ("LINKGRAPH_MAX_DEPTH", "0", "max_depth", 0),
    ("LINKGRAPH_MAX_PAGES", "0", "max_pages", None),
])
def test_good_values_are_taken(name, value, field, expected):
    config = check_settings(project(**{name: value}))
    if field is not None:
        assert getattr(config, field) == expected


@pytest.mark.parametrize("name, hint", [
    ("LINKGRAPH_MAXPAGES", "did you mean LINKGRAPH_MAX_PAGES?"),
    ("LINKGRAPH_MAX_DEPT", "did you mean LINKGRAPH_MAX_DEPTH?"),
    ("LINKGRAPH_FLUSH_SECOND", "did you mean LINKGRAPH_FLUSH_SECONDS?"),
    ("LINKGRAPH_ZZZ", "linkgraph/settings.py lists every LINKGRAPH_ setting"),
])
def test_unknown_linkgraph_names_are_refused(name, hint):
    with pytest.raises(UsageError, match=f"unknown setting {name}") as info:
        check_settings(project(**{name: "5"}))
    assert hint in str(info.value)


def test_defaults_have_one_home():
    # A Settings object without the project module still gets settings.py's defaults.
    bare = Settings({"LINKGRAPH_OUTPUT": "out"})
    config = parse_settings(bare)
    assert config.compact_rows == project_settings.LINKGRAPH_COMPACT_ROWS
    assert config.max_retry_after == project_settings.LINKGRAPH_MAX_RETRY_AFTER
    assert config.flush_seconds == project_settings.LINKGRAPH_FLUSH_SECONDS
    assert "LINKGRAPH_OUTPUT" in KNOWN_NAMES and "LINKGRAPH_WARC_ROTATE_MB" in KNOWN_NAMES


def test_server_extensions_are_not_even_imported_while_off():
    """Scrapy's telnet console and remote control are off; the spider takes them out of
    EXTENSIONS_BASE, so a crawl never imports them (aiohttp, TLS contexts), and a user
    who turns one on gets it back."""
    import subprocess
    import sys
    from pathlib import Path

    from linkgraph.spiders.links import LinksSpider

    remote, telnet = ("scrapy.extensions.remote_control.RemoteControl",
                      "scrapy.extensions.telnet.TelnetConsole")
    settings = project()
    LinksSpider.update_settings(settings)
    base = settings.getdict("EXTENSIONS_BASE")
    assert remote not in base and telnet not in base
    assert set(base) == set(default_settings.EXTENSIONS_BASE) - {remote, telnet}
    on = project(REMOTE_CONTROL_ENABLED=True)
    LinksSpider.update_settings(on)
    assert remote in on.getdict("EXTENSIONS_BASE") and telnet not in on.getdict("EXTENSIONS_BASE")
    # A crawler built as a crawl builds it imports neither module.
    code = ("import sys\nfrom scrapy.crawler import CrawlerRunner\n"
            "from scrapy.utils.project import get_project_settings\n"
            "from scrapy.utils.reactor import install_reactor\n"
            "from linkgraph.spiders.links import LinksSpider\n"
            "settings = get_project_settings()\n"
            "install_reactor(settings['TWISTED_REACTOR'])\n"
            "crawler = CrawlerRunner(settings).create_crawler(LinksSpider)\n"
            "crawler._apply_settings()\n"
            "print('scrapy.extensions.remote_control' in sys.modules, 'aiohttp' in sys.modules,"
            " 'scrapy.extensions.corestats' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(Path(__file__).resolve().parent.parent))
    assert out.stdout.split() == ["False", "False", "True"], out.stderr[-2000:]
