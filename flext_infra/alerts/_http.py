"""The one place alert channels make HTTP requests.

Webhook and Slack deliveries go through :class:`AlertHttp`. It deliberately
does not reuse the container's ``http_client`` *instance*: that client is
configured for the REST API (base URL, API credentials), and those credentials
must never be sent to a webhook. Retries are done by the alert manager (bounded
backoff per channel), so this layer makes exactly one attempt per call.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from flext_infra.alerts._errors import DeliveryError


class AlertHttp:
    """Posts JSON bodies, one attempt per call, with a timeout.

    Args:
        timeout: Seconds for connect, read and write.
        verify_tls: Verify server certificates.
    """

    def __init__(self, *, timeout: float = 10.0, verify_tls: bool = True) -> None:
        self._client = httpx.Client(timeout=timeout, verify=verify_tls, follow_redirects=False)

    def post_json(self, url: str, body: dict[str, Any]) -> int:
        """POST ``body`` as JSON; return the status code of a 2xx answer.

        Raises:
            DeliveryError: a network failure or a non-2xx status. 408, 429 and
                5xx are marked retriable; other statuses are not.
        """
        try:
            response = self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            # Name the host, never the path: webhook paths carry their token.
            where = urlsplit(url)
            raise DeliveryError(
                f"{type(exc).__name__}: {exc} ({where.scheme}://{where.netloc.rpartition('@')[2]})",
                retriable=True,
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        retriable = status in (408, 429) or status >= 500
        raise DeliveryError(f"HTTP {status}: {response.text[:200]}", retriable=retriable)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
