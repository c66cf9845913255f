"""Run the sample API in the foreground: ``python -m flext_infra.testing.sample_api``.

Logs go to stderr; the first line on stdout is the base URL, so a script can
start the server and read where it listens.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flext_infra.observability import configure_logging, get_logger
from flext_infra.testing._data import ENTITIES
from flext_infra.testing._faults import Faults
from flext_infra.testing._server import WMS_PREFIX, SampleApi


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (shared with ``flext sample-api``)."""
    parser = argparse.ArgumentParser(
        prog="python -m flext_infra.testing.sample_api",
        description="Serve the sample WMS LGF v10 / generic paginator API on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--records", type=int, default=1000, help="records per entity")
    parser.add_argument("--username", default=None, help="basic auth user (default: no auth)")
    parser.add_argument("--password", default=None, help="basic auth password")
    parser.add_argument("--error-ratio", type=float, default=0.0, help="share of 500/503 answers")
    parser.add_argument("--slow", type=float, default=0.0, help="seconds added to each answer")
    parser.add_argument("--outage", action="store_true", help="answer 503 to everything")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="hold every answer back (a remote API)"
    )
    parser.add_argument(
        "--client-rate-limit",
        default=None,
        metavar="RATE[:BURST]",
        help="token bucket per client: requests per second (burst defaults to RATE); 429 past it",
    )
    parser.add_argument(
        "--quota", type=int, default=None, help="requests answered before a long 429 (quota spent)"
    )
    parser.add_argument(
        "--oauth-client",
        action="append",
        default=[],
        metavar="ID:SECRET",
        help="accept OAuth2 client credentials at POST /oauth/token (repeatable)",
    )
    parser.add_argument(
        "--prerender",
        action="store_true",
        help="render every WMS entity's sequenced walk (ordering=mod_ts) before serving",
    )
    parser.add_argument("--page-size", type=int, default=1000, help="page size for --prerender")
    parser.add_argument("--cache-mb", type=int, default=256, help="rendered-page cache bound (MiB)")
    return parser


def _rate(value: str | None) -> tuple[float, int] | None:
    """``RATE[:BURST]`` as ``(rate, burst)``; the burst defaults to the rate (at least 1)."""
    if value is None:
        return None
    rate_text, _, burst_text = value.partition(":")
    rate = float(rate_text)
    burst = int(burst_text) if burst_text else max(1, round(rate))
    if rate <= 0 or burst < 1:
        raise ValueError("RATE must be > 0 and BURST >= 1")
    return rate, burst


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted; returns the exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(level="INFO")
    log = get_logger("flext.sample_api")
    try:
        client_limit = _rate(args.client_rate_limit)
    except ValueError as exc:
        print(f"error: --client-rate-limit: {exc}", file=sys.stderr)
        return 2
    faults = Faults(
        error_ratio=args.error_ratio,
        slow_s=args.slow,
        outage=args.outage,
        client_rate_limit=client_limit,
        quota=args.quota,
    )
    clients = dict(c.partition(":")[::2] for c in args.oauth_client)
    try:
        api = SampleApi(
            records=args.records,
            port=args.port,
            host=args.host,
            username=args.username,
            password=args.password,
            oauth_clients=clients or None,
            faults=faults,
            cache_max_bytes=args.cache_mb * 1024 * 1024,
            latency_ms=args.latency_ms,
        )
        api.start()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.prerender:
        query = {"page_size": str(args.page_size), "page_mode": "sequenced", "ordering": "mod_ts"}
        for entity in ENTITIES:
            pages = api.prerender(f"{WMS_PREFIX}{entity}/", query)
            log.info("sample_api.prerendered", entity=entity, pages=pages, **query)
    print(api.base_url, flush=True)
    log.info("sample_api.started", base_url=api.base_url, records=args.records)
    try:
        api.wait()
    except KeyboardInterrupt:
        log.info("sample_api.stopping")
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
