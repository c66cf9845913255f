"""The innermost layer: httpx's connection pools, TLS built on first use.

httpx builds a transport's TLS context when the transport is created, and that
means parsing the whole CA bundle (~20 ms) even for a client that only ever
speaks plain HTTP (encode/httpx#2298; pip and requests defer it for the same
reason). This layer keeps two pools: plain ``http://`` requests go to one that
never negotiates TLS, and the verifying TLS pool is built by the first
``https://`` request. A redirect from one scheme to the other is routed again.

A server certificate that fails verification is not a network blip: retrying
cannot fix it. It becomes a :class:`FatalHTTPError` (reason ``"tls"``) that
says what to check, and the retry and breaker layers let it through at once.
"""

from __future__ import annotations

import ssl
import threading

from flext_infra.http._errors import FatalHTTPError
from flext_infra.http._httpx import (
    BaseTransport,
    ConnectError,
    HTTPTransport,
    Limits,
    Request,
    Response,
)
from flext_infra.http._observe import mask_url

__all__ = ["NetworkTransport"]


class NetworkTransport(BaseTransport):
    """httpx's transport, one pool per scheme; the TLS one is created on the first HTTPS request.

    Args:
        verify_tls: Verify server certificates (``False`` only for testing).
        limits: Connection limits, per pool.
        secret_params: Query parameters masked in error URLs.
    """

    def __init__(
        self, *, verify_tls: bool, limits: Limits, secret_params: frozenset[str] = frozenset()
    ) -> None:
        self._verify = verify_tls
        self._limits = limits
        self._secret_params = secret_params
        # Plain HTTP only: this pool never opens a TLS connection, so it needs
        # no CA bundle (an unverified context is the cheap one to build).
        self._plain = HTTPTransport(verify=False, retries=0, limits=limits)
        self._tls: HTTPTransport | None = None
        self._lock = threading.Lock()

    @property
    def tls_ready(self) -> bool:
        """True once the TLS pool exists (after the first HTTPS request)."""
        return self._tls is not None

    def handle_request(self, request: Request) -> Response:
        if request.url.scheme != "https":
            return self._plain.handle_request(request)
        try:
            return self._tls_pool().handle_request(request)
        except ConnectError as exc:
            cause = _certificate_error(exc)
            if cause is None:
                raise
            raise FatalHTTPError(
                f"TLS certificate verification failed: {cause.verify_message}; check that "
                "the server's certificate chain is complete and issued for this host "
                "(verify_tls: false, or FLEXT_API_VERIFY_TLS=false, turns verification off; "
                "for testing only)",
                method=request.method,
                url=mask_url(request.url, self._secret_params),
                attempts=1,
                reason="tls",
            ) from exc

    def _tls_pool(self) -> HTTPTransport:
        pool = self._tls
        if pool is None:
            with self._lock:
                pool = self._tls
                if pool is None:
                    pool = HTTPTransport(verify=self._verify, retries=0, limits=self._limits)
                    self._tls = pool
        return pool

    def close(self) -> None:
        self._plain.close()
        with self._lock:
            if self._tls is not None:
                self._tls.close()


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind an httpx connect error, if that is what it is."""
    seen: BaseException | None = exc
    for _ in range(8):  # httpx -> httpcore -> ssl; never loop on a cyclic chain
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
