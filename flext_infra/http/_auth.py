"""Auth schemes as ``httpx.Auth`` flows: basic, bearer, API key, OAuth2 client credentials.

Each one teaches its secret values to the log redactor when it is made, so a
secret can never reach a log line, even inside a URL or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from flext_infra.http._errors import FatalHTTPError
from flext_infra.http._httpx import URL, Auth, Request, Response
from flext_infra.observability import get_logger, redactor

if TYPE_CHECKING:
    from flext_infra.settings import ApiSettings

_log = get_logger("flext.http")


def _plain(value: SecretStr | str) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


class BasicAuth(Auth):
    """HTTP basic auth (RFC 7617)."""

    def __init__(self, username: str, password: SecretStr | str) -> None:
        secret = _plain(password)
        redactor.add([secret])
        token = base64.b64encode(f"{username}:{secret}".encode()).decode()
        redactor.add([token])
        self._header = f"Basic {token}"
        self.username = username

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def fingerprint(self) -> str:
        """A digest naming this credential (partitions a shared cache; reveals nothing)."""
        return _digest("basic", self._header)

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='**********')"


class BearerAuth(Auth):
    """A fixed bearer token (RFC 6750)."""

    def __init__(self, token: SecretStr | str) -> None:
        self._token = _plain(token)
        redactor.add([self._token])

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def fingerprint(self) -> str:
        """A digest naming this credential (partitions a shared cache; reveals nothing)."""
        return _digest("bearer", self._token)

    def __repr__(self) -> str:
        return "BearerAuth(token='**********')"


class ApiKeyAuth(Auth):
    """An API key sent as a header or a query parameter."""

    def __init__(
        self, name: str, value: SecretStr | str, in_: Literal["header", "query"] = "header"
    ) -> None:
        if in_ not in ("header", "query"):
            raise ValueError("in_ must be 'header' or 'query'")
        self.name = name
        self.in_ = in_
        self._value = _plain(value)
        redactor.add([self._value])

    @property
    def query_param(self) -> str | None:
        """The query parameter that carries the key (masked in logged URLs), if any."""
        return self.name if self.in_ == "query" else None

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        if self.in_ == "header":
            request.headers[self.name] = self._value
        else:
            request.url = request.url.copy_merge_params({self.name: self._value})
        yield request

    def fingerprint(self) -> str:
        """A digest naming this credential (partitions a shared cache; reveals nothing)."""
        return _digest("key", self.name, self._value)

    def __repr__(self) -> str:
        return f"ApiKeyAuth(name={self.name!r}, in_={self.in_!r}, value='**********')"


class OAuth2ClientCredentials(Auth):
    """OAuth2 client-credentials grant (RFC 6749 §4.4).

    The token is fetched once and reused until ``refresh_margin_s`` before it
    expires. A 401 on a request made with a cached token fetches a new one and
    sends the request again, once. The token request goes through the same
    client, so it gets the same retries, rate limit and breaker as any other.
    Thread-safe: concurrent requests share one token fetch.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr | str,
        scope: str | None = None,
        *,
        refresh_margin_s: float = 30.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._secret = _plain(client_secret)
        redactor.add([self._secret])
        self.scope = scope
        self.refresh_margin_s = refresh_margin_s
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        #: How many tokens were fetched (a metric and a test hook).
        self.fetches = 0

    def _valid_token(self) -> str | None:
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        return None

    def _token_request(self) -> Request:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        basic = base64.b64encode(f"{self.client_id}:{self._secret}".encode()).decode()
        redactor.add([basic])
        return Request(
            "POST",
            self.token_url,
            data=form,
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
        )

    def _store(self, response: Response) -> str:
        if response.status_code != 200:
            raise FatalHTTPError(
                f"OAuth2 token request refused ({response.status_code})",
                method="POST",
                url=str(URL(self.token_url).copy_with(query=None)),
                status=response.status_code,
                attempts=1,
                reason="oauth_token",
            )
        try:
            payload: dict[str, Any] = response.json()
            token = str(payload["access_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise FatalHTTPError(
                "OAuth2 token response has no access_token",
                method="POST",
                url=self.token_url,
                status=response.status_code,
                attempts=1,
                reason="oauth_token",
            ) from exc
        redactor.add([token])
        expires_in = float(payload.get("expires_in") or 3600)
        self._token = token
        self._expires_at = time.monotonic() + max(0.0, expires_in - self.refresh_margin_s)
        self.fetches += 1
        _log.info("http.oauth.token_fetched", endpoint=self.token_url, expires_in=expires_in)
        return token

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        # httpx drives this generator; it yields the token request first when needed.
        token = self._valid_token()
        if token is None:
            with self._lock:
                token = self._valid_token()
                if token is None:
                    token = self._store((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        _log.info("http.oauth.token_rejected", endpoint=self.token_url)
        with self._lock:
            if self._token == token:  # nobody refreshed it meanwhile
                self._token = None
                token = self._store((yield self._token_request()))
            else:
                token = self._valid_token() or self._store((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def fingerprint(self) -> str:
        """A digest naming this client (its tokens rotate; the client and scope do not)."""
        return _digest("oauth2", self.token_url, self.client_id, self._secret, self.scope or "")

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(token_url={self.token_url!r}, "
            f"client_id={self.client_id!r}, client_secret='**********')"
        )


def auth_from_settings(api: ApiSettings) -> Auth | None:
    """The auth the settings describe: OAuth2, bearer, API key or basic (first match)."""
    if api.oauth_token_url and api.oauth_client_id and api.oauth_client_secret:
        return OAuth2ClientCredentials(
            api.oauth_token_url, api.oauth_client_id, api.oauth_client_secret, api.oauth_scope
        )
    if api.token is not None:
        return BearerAuth(api.token)
    if api.api_key is not None:
        return ApiKeyAuth(api.api_key_name, api.api_key, api.api_key_in)
    if api.username:
        return BasicAuth(api.username, api.password or "")
    return None
