"""Concurrent extraction: streams in parallel, pages read ahead, time windows, one writer.

At ``max_concurrency`` above 1, ``TapFlextApi.sync_all`` runs its streams
through :func:`run_streams` with one :class:`Concurrency`: a pool of worker
threads sends every request (through the tap's one HTTP client, so through one
rate governor), stream threads take turns to run the SDK and write, and feeds
hand each stream its pages in order. See ``docs/tap.md`` ("Concurrency").
"""

from tap_flext_api.concurrency._engine import SyncedStream, run_streams
from tap_flext_api.concurrency._feeds import FeedSource, PageFeed, Scheduler, WindowFeeds
from tap_flext_api.concurrency._pool import WorkerPool
from tap_flext_api.concurrency._runtime import Concurrency
from tap_flext_api.concurrency._turns import Turns
from tap_flext_api.concurrency._watermark import Watermark

__all__ = [
    "Concurrency",
    "FeedSource",
    "PageFeed",
    "Scheduler",
    "SyncedStream",
    "Turns",
    "Watermark",
    "WindowFeeds",
    "WorkerPool",
    "run_streams",
]
