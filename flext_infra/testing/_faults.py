"""Fault injection for the sample API (settings and the injector), and the request log."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from email.utils import formatdate
from typing import Any, Literal
from urllib.parse import unquote_plus

#: Paths faults skip unless ``Faults.paths`` names them.
EXEMPT = ("/health", "/oauth/token")


@dataclass
class Faults:
    """What the sample API does wrong, per server instance.

    Counters (``*_next``) count down, one per request they affect, so a test can
    say "the next two requests fail" and get exactly that. Faults apply to every
    path except ``/health`` and ``/oauth/token`` unless ``paths`` names
    prefixes; an outage hits every path.

    Attributes:
        outage: Every request answers ``outage_status`` ("everything fails").
        fail_next: The next N requests answer ``fail_status``.
        error_ratio: A share (0..1) of requests answer one of ``error_statuses``.
        rate_limit_next: The next N requests answer 429 with ``Retry-After``.
        retry_after: The ``Retry-After`` delay in seconds.
        retry_after_form: ``"seconds"`` (``Retry-After: 2``) or ``"date"`` (an HTTP date).
        server_rate_limit: ``(limit, window_s)``: a fixed-window limit that answers
            429 past ``limit`` requests per window and always sends the
            ``X-RateLimit-*`` and IETF ``RateLimit``/``RateLimit-Policy`` headers.
        client_rate_limit: ``(rate_per_s, burst)``: a token bucket per client
            (its credential, else its address). A request finding the bucket
            empty gets 429 with ``Retry-After`` (whole seconds until a token);
            every answer carries ``X-RateLimit-Limit`` (the rate per second),
            ``X-RateLimit-Remaining`` (whole tokens left), ``X-RateLimit-Reset``
            (seconds until Remaining grows by one) and ``RateLimit-Policy``.
        quota: Requests answered before the quota is spent; every later one
            gets 429 with ``Retry-After: quota_retry_after`` and
            ``X-RateLimit-Remaining: 0`` (a daily quota that ran out).
        quota_retry_after: Seconds a spent quota asks the client to wait.
        fail_matching: Requests whose path and query contain this text answer
            ``fail_matching_status`` (a fatal error in one partition, say).
        drop_ratio: A share (0..1) of responses cut off halfway (as ``drop_next``).
        truncate_ratio: A share (0..1) of responses stopped mid-JSON (as ``truncate_next``).
        slow_s: Every affected response is delayed by this many seconds.
        drop_next: The next N responses close the connection halfway through
            the body (``Content-Length`` says more than is sent).
        truncate_next: The next N responses send a chunked body that stops
            mid-JSON without its last chunk.
        unauthorized_next: The next N requests answer 401 whatever their credentials.
        paths: Path prefixes the faults apply to; empty means all but the exempt ones.
        seed: Seeds the ``error_ratio`` draws, so runs repeat.
        graphql_errors_next: The next N GraphQL answers are errors only (``data:
            null``), one error per root field with its message, location and path.
        graphql_partial_next: The next N GraphQL answers carry partial data: one
            nullable field of one record (mid-page) fails, with its path.
        graphql_partial_field: The field that fails instead (any field the query
            reads); a non-null one nulls the whole record, as GraphQL does.
        graphql_throttle_next: The next N GraphQL answers are ``THROTTLED`` errors
            with a Shopify-style ``extensions.cost.throttleStatus``.
        graphql_throttle_ratio: A share (0..1) of GraphQL answers are ``THROTTLED``.
        graphql_cost: ``(maximum_available, restore_rate)``: a cost bucket
            (Shopify's leaky bucket). Each query costs one plus two per
            connection and one per record asked for; a query costing more than
            is available is throttled; every answer reports the bucket in
            ``extensions.cost``.
    """

    outage: bool = False
    outage_status: int = 503
    fail_next: int = 0
    fail_status: int = 503
    error_ratio: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    rate_limit_next: int = 0
    retry_after: float = 1.0
    retry_after_form: Literal["seconds", "date"] = "seconds"
    server_rate_limit: tuple[int, float] | None = None
    client_rate_limit: tuple[float, int] | None = None
    quota: int | None = None
    quota_retry_after: float = 3600.0
    fail_matching: str | None = None
    fail_matching_status: int = 400
    drop_ratio: float = 0.0
    truncate_ratio: float = 0.0
    slow_s: float = 0.0
    drop_next: int = 0
    truncate_next: int = 0
    unauthorized_next: int = 0
    paths: tuple[str, ...] = ()
    seed: int = 0
    graphql_errors_next: int = 0
    graphql_partial_next: int = 0
    graphql_partial_field: str | None = None
    graphql_throttle_next: int = 0
    graphql_throttle_ratio: float = 0.0
    graphql_cost: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the injector decided for one request.

    Attributes:
        fault: ``"status:<code>"``, ``"drop"`` or ``"truncate"``; ``None`` for a normal answer.
        headers: Sent with the fault's answer, or (rate-limit headers) with the normal one.
    """

    fault: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


_NO_FAULT = Verdict()


class FaultInjector:
    """Decides, request by request and under one lock, which fault the sample API answers with.

    Args:
        faults: The initial settings (none by default).
    """

    def __init__(self, faults: Faults | None = None) -> None:
        #: Held while reading or counting down the settings (the GraphQL endpoint takes it too).
        self.lock = threading.Lock()
        self._faults = faults or Faults()
        #: Draws for ``error_ratio`` and ``graphql_throttle_ratio``, seeded by ``Faults.seed``.
        self.rng = random.Random(self._faults.seed)
        self._window: tuple[float, int] = (0.0, 0)
        #: Per client: (tokens, monotonic time of the last refill).
        self._buckets: dict[str, tuple[float, float]] = {}
        self._quota_used = 0

    @property
    def faults(self) -> Faults:
        """The settings in force (counters show what is left)."""
        return self._faults

    def replace(self, faults: Faults | None = None, **changes: Any) -> Faults:
        """New settings: ``faults`` (default: none) with ``changes``; counters start afresh."""
        valid = {f.name for f in dataclass_fields(Faults)}
        bad = set(changes) - valid
        if bad:
            raise TypeError(f"unknown fault settings: {sorted(bad)}")
        with self.lock:
            self._faults = replace(faults or Faults(), **changes)
            self.rng = random.Random(self._faults.seed)
            self._window = (0.0, 0)
            self._buckets.clear()
            self._quota_used = 0
            return self._faults

    def pick(self, path: str, client: str = "", query: str = "") -> Verdict:
        """The fault (if any) the request for ``path`` (with ``query``) from ``client`` gets."""
        with self.lock:
            f = self._faults
            if f.outage:
                return Verdict(f"status:{f.outage_status}")
            if f.paths:
                if not path.startswith(f.paths):
                    return _NO_FAULT
            elif path.startswith(EXEMPT):
                return _NO_FAULT
            if f.fail_next > 0:
                f.fail_next -= 1
                return Verdict(f"status:{f.fail_status}")
            if f.fail_matching and f.fail_matching in f"{path}?{unquote_plus(query)}":
                return Verdict(f"status:{f.fail_matching_status}")
            if f.rate_limit_next > 0:
                f.rate_limit_next -= 1
                return Verdict("status:429", {"Retry-After": self._retry_after_value(f)})
            if f.quota is not None:
                if self._quota_used >= f.quota:
                    wait = str(math.ceil(f.quota_retry_after))
                    return Verdict(
                        "status:429",
                        {"Retry-After": wait, "X-RateLimit-Limit": str(f.quota),
                         "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": wait},
                    )  # fmt: skip
                self._quota_used += 1
            rate_headers: dict[str, str] = {}
            if f.client_rate_limit is not None:
                limited = self._token_bucket(client, *f.client_rate_limit)
                if limited.fault is not None:
                    return limited
                rate_headers = limited.headers
            if f.server_rate_limit is not None:
                limited = self._fixed_window(f.server_rate_limit)
                if limited.fault is not None:
                    return limited
                rate_headers = limited.headers
            if f.error_ratio > 0 and self.rng.random() < f.error_ratio:
                return Verdict(f"status:{self.rng.choice(f.error_statuses)}")
            if f.unauthorized_next > 0:
                f.unauthorized_next -= 1
                return Verdict("status:401", {"WWW-Authenticate": 'Bearer realm="sample"'})
            if f.drop_next > 0:
                f.drop_next -= 1
                return Verdict("drop")
            if f.truncate_next > 0:
                f.truncate_next -= 1
                return Verdict("truncate")
            if f.drop_ratio > 0 and self.rng.random() < f.drop_ratio:
                return Verdict("drop")
            if f.truncate_ratio > 0 and self.rng.random() < f.truncate_ratio:
                return Verdict("truncate")
            return Verdict(None, rate_headers) if rate_headers else _NO_FAULT

    @staticmethod
    def _retry_after_value(f: Faults) -> str:
        if f.retry_after_form == "date":
            return formatdate(time.time() + f.retry_after, usegmt=True)
        return str(math.ceil(f.retry_after))

    def _token_bucket(self, client: str, rate: float, burst: int) -> Verdict:
        """Take a token from ``client``'s bucket (lock held); a 429 when there is none."""
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        limited = tokens < 1.0
        if not limited:
            tokens -= 1.0
        self._buckets[client] = (tokens, now)
        # Reset: seconds until Remaining grows by one (0 when the bucket is full).
        until_next = 0.0 if tokens >= burst else (math.floor(tokens) + 1 - tokens) / rate
        headers = {
            "X-RateLimit-Limit": f"{rate:g}",
            "X-RateLimit-Remaining": str(int(tokens)),
            "X-RateLimit-Reset": f"{until_next:.3f}",
            "RateLimit-Policy": f'"client";q={rate:g};w=1;burst={burst}',
        }
        if limited:
            headers["Retry-After"] = str(math.ceil((1.0 - tokens) / rate))
            return Verdict("status:429", headers)
        return Verdict(None, headers)

    def _fixed_window(self, limit_window: tuple[int, float]) -> Verdict:
        limit, window = limit_window
        now = time.monotonic()
        start, used = self._window
        if now - start >= window:
            start, used = now, 0
        used += 1
        self._window = (start, used)
        reset = max(0.0, window - (now - start))
        remaining = max(0, limit - used)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{math.ceil(reset)}",
            "RateLimit-Policy": f'"default";q={limit};w={math.ceil(window)}',
            "RateLimit": f'"default";r={remaining};t={math.ceil(reset)}',
        }
        if used > limit:
            headers["Retry-After"] = str(math.ceil(reset))
            return Verdict("status:429", headers)
        # Not limited: the headers still go out with the normal response.
        return Verdict(None, headers)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the sample API answered (credentials are never kept).

    ``received`` is when the request arrived and ``at`` when its answer left
    (``time.time()``; they differ by the latency and the rendering);
    ``client`` is a digest of the client's credential (or address), the key
    of ``Faults.client_rate_limit``.
    """

    method: str
    path: str
    query: str
    status: int
    fault: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    auth_scheme: str | None = None
    at: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    received: float = 0.0
    client: str = ""


class RequestLog:
    """Every request the server answered, in order (thread-safe, read-only to tests)."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        with self._lock:
            return iter(list(self._records))

    def __getitem__(self, index: int) -> RequestRecord:
        return self._records[index]

    @property
    def count(self) -> int:
        """How many requests were answered."""
        return len(self._records)

    def statuses(self) -> Counter[int]:
        """How many answers went out with each status."""
        with self._lock:
            return Counter(r.status for r in self._records)

    @property
    def rate_limited(self) -> int:
        """How many 429 answers were sent."""
        return self.statuses()[429]

    def busiest_window(self, seconds: float = 1.0, *, path_prefix: str = "") -> int:
        """The most requests that arrived within any ``seconds``-long window.

        Computed from each request's arrival time, so a test can check a
        client's rate as the server saw it.
        """
        times = sorted(r.received for r in self.matching(path_prefix))
        most, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= seconds:
                start += 1
            most = max(most, end - start + 1)
        return most

    def matching(self, path_prefix: str = "", method: str | None = None) -> list[RequestRecord]:
        """The requests whose path starts with ``path_prefix`` (and of ``method``, if given)."""
        with self._lock:
            return [
                r
                for r in self._records
                if r.path.startswith(path_prefix) and (method is None or r.method == method)
            ]

    def clear(self) -> None:
        """Forget every request seen so far."""
        with self._lock:
            self._records.clear()
