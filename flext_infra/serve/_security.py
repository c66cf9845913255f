"""The bearer token and the per-client rate limit of the protected endpoints.

The rate limit is `limits`' moving window kept in memory: one window per
client address, so a client that guesses tokens is slowed as much as one that
polls too fast (the limit runs before the token check).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time

from fastapi import Request
from fastapi.security import HTTPBasic, HTTPBearer
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import SecretStr

from flext_infra.observability import get_logger
from flext_infra.serve._errors import ServeError

log = get_logger("flext.serve")

REALM = "flext serve"

#: Declares the bearer scheme in the OpenAPI document; the check itself is ours.
bearer_scheme = HTTPBearer(auto_error=False, description="FLEXT_SERVE_TOKEN")
#: Browsers cannot send a bearer token: the status page also takes the token as
#: the password of HTTP Basic (any user name), so a person gets a login prompt.
basic_scheme = HTTPBasic(auto_error=False, realm=REALM, description="any user, the token")


def client_of(request: Request) -> str:
    """The client's address (uvicorn resolves trusted proxy headers into it)."""
    return request.client.host if request.client else "unknown"


class ClientRateLimit:
    """``per_minute`` requests per client address in any 60-second window.

    Raises:
        HTTPException: 429 with ``Retry-After`` (seconds until the window frees a slot).
    """

    def __init__(self, per_minute: int) -> None:
        self.item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def __call__(self, request: Request) -> None:
        client = client_of(request)
        if self._limiter.hit(self.item, "serve", client):
            return
        reset_at = self._limiter.get_window_stats(self.item, "serve", client).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        log.warning(
            "serve.rate_limited", client=client, path=request.url.path, retry_after_s=retry_after
        )
        raise ServeError(
            429,
            "rate_limited",
            f"more than {self.item.amount} requests a minute from this client",
            [("Retry-After", str(retry_after))],
        )


class TokenAuth:
    """Checks ``Authorization: Bearer <token>`` (or Basic with the token as password).

    The comparison is constant-time. A missing or wrong token answers 401 with
    ``WWW-Authenticate``; the attempt is logged with the client, the path and
    why, never with what was presented.
    """

    def __init__(self, token: SecretStr, *, browser: bool = False) -> None:
        self._token = token.get_secret_value().encode()
        self.browser = browser

    def _challenges(self, error: str | None) -> list[tuple[str, str]]:
        bearer = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
        challenges = [("WWW-Authenticate", bearer)]
        if self.browser:
            # A line of its own: browsers read one challenge per header line.
            challenges.append(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))
        return challenges

    def presented(self, request: Request) -> bytes | None:
        """The token in the request, or None."""
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return value.encode()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return b""
            return decoded.partition(b":")[2]
        return b""

    def __call__(self, request: Request) -> None:
        given = self.presented(request)
        if given is not None and hmac.compare_digest(given, self._token):
            return
        reason = "missing" if given is None else "invalid"
        log.warning(
            "serve.auth.rejected", client=client_of(request), path=request.url.path, reason=reason
        )
        raise ServeError(
            401,
            "unauthorized",
            f"{reason} token",
            self._challenges("invalid_token" if given else None),
        )
