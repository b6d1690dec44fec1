"""All SQL of video-svc, one module per aggregate, re-exported here (callers write
``repo.get_video``). Functions take the caller's connection, a pooled one or the pool (``DB``)."""

from .access import Access, failure_stats, list_access_log, lock_attempts, log_access
from .comments import insert_comment, list_comments
from .contracts import (
    get_contract,
    get_contracts,
    lock_contract,
    lock_contracts,
    save_contract,
    save_contracts,
)
from .db import DB
from .links import (
    LinkRow,
    get_link,
    insert_link,
    link_by_token_hash,
    list_links,
    revoke_link,
    revoke_links_of_contracts,
    year_end_effects,
)
from .videos import (
    VideoRow,
    get_video,
    insert_video,
    known_video_ids,
    list_videos,
    mark_video_deleted,
    videos_due_for_purge,
)

__all__ = [
    "DB",
    "Access",
    "LinkRow",
    "VideoRow",
    "failure_stats",
    "get_contract",
    "get_contracts",
    "get_link",
    "get_video",
    "insert_comment",
    "insert_link",
    "insert_video",
    "known_video_ids",
    "link_by_token_hash",
    "list_access_log",
    "list_comments",
    "list_links",
    "list_videos",
    "lock_attempts",
    "lock_contract",
    "lock_contracts",
    "log_access",
    "mark_video_deleted",
    "revoke_link",
    "revoke_links_of_contracts",
    "save_contract",
    "save_contracts",
    "videos_due_for_purge",
    "year_end_effects",
]
