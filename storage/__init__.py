"""Redline's store: the only package that imports sqlite_utils or writes SQL.

Every read returns frozen records from pipeline.models; every state change of an article
has a function named for what happened (record_check, record_version, record_events, ...).
"""

import sys

# sqlite-utils imports numpy and pandas when they are installed, only to map their number types to column
# types; Redline never stores either. matplotlib (the workspace's plots) installs numpy, and with it every
# `redline` command started 0.1-0.2 s later (python -X importtime). So sqlite-utils is loaded with both
# hidden, and they stay importable for whoever needs them after.
_HIDDEN = [name for name in ("numpy", "pandas") if name not in sys.modules]
sys.modules.update(dict.fromkeys(_HIDDEN, None))
try:
    import sqlite_utils  # noqa: F401 - loaded here, once, without them
finally:
    for _name in _HIDDEN:
        del sys.modules[_name]

from storage.db import (  # noqa: E402
    Database,
    add_aliases,
    add_articles,
    article_urls_by_id,
    backup,
    claim_alerts,
    claim_due_articles,
    claim_url,
    clear_throttle,
    count_held_elsewhere,
    count_rows,
    end_host_request,
    expire_claims,
    export_alerts,
    export_changes,
    export_versions,
    find_article,
    find_articles,
    find_faults,
    find_revert,
    finish_alerts,
    get_article,
    get_blob,
    get_diff,
    get_host,
    get_source,
    get_version,
    has_issue,
    hold_articles,
    latest_version,
    lease_holder,
    list_alerts,
    list_aliases,
    list_articles,
    list_headlines,
    list_issues,
    list_changes,
    list_versions,
    mailbox_state,
    mark_extractor_drift,
    measure_archive,
    merge_article,
    migrate,
    open_archive,
    open_db,
    owner_of,
    pending_alerts,
    prune_raw_pages,
    record_check,
    record_check_error,
    record_events,
    record_feed_update,
    record_fetch,
    record_issue,
    record_poll,
    record_reextraction,
    record_version,
    requeue_alerts,
    reserve_host_slot,
    save_mailbox_state,
    save_robots,
    source_name,
    source_names_by_id,
    stream_changes,
    sync_sources,
    take_host_request,
    throttle_host,
    vacuum,
    version_texts,
)
from storage.copy import TABLES, copy_archive  # noqa: E402
from storage.dialect import on_server  # noqa: E402
from storage.workspace import (  # noqa: E402
    MARK_END,
    MARK_START,
    SORTS,
    count_articles,
    count_per_day,
    list_article_summaries,
    list_timeline,
    match_expression,
    open_reader,
    page_alerts,
    search_versions,
    summarise_sources,
    update_delays,
)

__all__ = [
    "Database", "add_aliases", "add_articles", "article_urls_by_id", "backup", "claim_alerts", "claim_due_articles",
    "claim_url",
    "clear_throttle", "count_held_elsewhere", "count_rows", "end_host_request", "expire_claims", "export_alerts", "export_changes", "export_versions", "find_article",
    "find_articles", "find_faults", "find_revert", "finish_alerts", "get_article", "get_blob",
    "get_diff", "get_host", "get_source", "get_version", "has_issue", "hold_articles", "latest_version",
    "lease_holder", "list_alerts", "list_aliases", "list_articles", "list_headlines", "list_issues", "list_changes", "list_versions",
    "mailbox_state", "mark_extractor_drift", "measure_archive", "merge_article", "migrate", "open_archive", "open_db", "owner_of",
    "pending_alerts", "prune_raw_pages", "record_check", "record_check_error", "record_events",
    "record_feed_update", "record_fetch", "record_issue", "record_poll", "record_reextraction", "record_version",
    "requeue_alerts", "reserve_host_slot", "save_mailbox_state", "save_robots", "source_name", "source_names_by_id",
    "stream_changes",
    "sync_sources", "take_host_request", "throttle_host", "vacuum", "version_texts",
    "TABLES", "copy_archive", "on_server",
    # the researcher's reads (storage.workspace)
    "MARK_END", "MARK_START", "SORTS", "count_articles", "count_per_day", "list_article_summaries", "list_timeline",
    "match_expression", "open_reader", "page_alerts", "search_versions", "summarise_sources", "update_delays",
]
