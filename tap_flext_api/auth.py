"""Authentication: the tap's auth settings turned into ``flext_infra.http`` auth objects.

The SDK's authenticators sign ``requests`` objects; the tap's transport is
``flext_infra``'s httpx client, so auth is an ``httpx.Auth`` from there.
"""

from __future__ import annotations

from typing import Any

from flext_infra.http import ApiKeyAuth, BasicAuth, BearerAuth, OAuth2ClientCredentials
from tap_flext_api._settings import TapSettings

__all__ = ["build_auth"]


def build_auth(settings: TapSettings) -> Any | None:
    """The auth object for ``settings.auth_method`` (``None`` for no auth).

    Raises:
        ValueError: the method's required fields are missing (names the field).
    """
    method = settings.auth_method
    if method == "none":
        return None
    if method == "basic":
        if not settings.username:
            raise ValueError("auth_method=basic needs 'username' (and 'password')")
        return BasicAuth(settings.username, settings.password or "")
    if method == "bearer":
        if not settings.bearer_token:
            raise ValueError("auth_method=bearer needs 'bearer_token'")
        return BearerAuth(settings.bearer_token)
    if method == "api_key":
        if not settings.api_key:
            raise ValueError("auth_method=api_key needs 'api_key'")
        return ApiKeyAuth(settings.api_key_name, settings.api_key, in_=settings.api_key_location)
    if method == "oauth2":
        missing = [
            name
            for name in ("oauth2_token_url", "oauth2_client_id", "oauth2_client_secret")
            if not getattr(settings, name)
        ]
        if missing:
            raise ValueError(f"auth_method=oauth2 needs {', '.join(missing)}")
        token_url = str(settings.oauth2_token_url)
        if token_url.startswith("/"):
            token_url = settings.base_url + token_url
        return OAuth2ClientCredentials(
            token_url,
            str(settings.oauth2_client_id),
            str(settings.oauth2_client_secret),
            scope=settings.oauth2_scope,
        )
    raise ValueError(f"unknown auth_method {method!r}")
