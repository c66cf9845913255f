"""The one place alert channels make HTTP requests: through ``flext_infra.http``.

Webhook and Slack deliveries use a :class:`~flext_infra.http.FlextHttpClient`
of their own, built with :func:`~flext_infra.http.create_http_client`. They do
not reuse the container's ``http_client`` *instance*: that one is configured
for the REST API (base URL, API credentials, loopback guard in tests), and
API credentials must never be sent to a webhook. The client makes one attempt
per call (``max_retries=0``): the alert manager owns the retry loop, with its
own bounded backoff, so that each channel's attempts are counted and reported.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flext_infra.alerts._errors import DeliveryError
from flext_infra.http import HttpClientConfig, HttpError, create_http_client


class AlertHttp:
    """Posts JSON bodies, one attempt per call, with a timeout.

    Args:
        timeout: Seconds for connect, read and write.
        verify_tls: Verify server certificates.
    """

    def __init__(self, *, timeout: float = 10.0, verify_tls: bool = True) -> None:
        self._client = create_http_client(
            HttpClientConfig(
                timeout=timeout,
                connect_timeout=min(timeout, 10.0),
                total_timeout=timeout * 2,
                max_retries=0,
                cache_enabled=False,
                verify_tls=verify_tls,
                user_agent="flext-alerts/0.1",
            )
        )

    def post_json(self, url: str, body: dict[str, Any]) -> int:
        """POST ``body`` as JSON; return the status code of a 2xx answer.

        Raises:
            DeliveryError: a network failure or a non-2xx status. 408, 429 and
                5xx are marked retriable; other statuses are not.
        """
        try:
            response = self._client.post(url, json=body, raise_for_status=False)
        except HttpError as exc:
            # Name the host, never the path: webhook paths carry their token.
            where = urlsplit(url)
            cause = exc.__cause__
            detail = f"{type(cause).__name__}: {cause}" if cause else type(exc).__name__
            raise DeliveryError(
                f"{detail} ({where.scheme}://{where.netloc.rpartition('@')[2]})",
                retriable=True,
            ) from exc
        status = int(response.status_code)
        if 200 <= status < 300:
            return status
        retriable = status in (408, 429) or status >= 500
        raise DeliveryError(f"HTTP {status}: {response.text[:200]}", retriable=retriable)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
