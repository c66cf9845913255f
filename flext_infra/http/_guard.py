"""The loopback guard: in the test environment no request may leave this machine."""

from __future__ import annotations

import ipaddress

from flext_infra.http._errors import FatalHTTPError
from flext_infra.http._httpx import BaseTransport, Request, Response
from flext_infra.http._observe import mask_url


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1``."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackGuardTransport(BaseTransport):
    """Refuses (with :class:`FatalHTTPError`) any request to a non-loopback host."""

    def __init__(self, inner: BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: Request) -> Response:
        if not is_loopback(request.url.host):
            raise FatalHTTPError(
                f"host {request.url.host!r} refused: this client is loopback-only",
                method=request.method,
                url=mask_url(request.url),
                reason="host_not_allowed",
            )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
