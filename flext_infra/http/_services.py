"""The ``http_client`` container service: a singleton closed on dispose.

Built by :meth:`HttpClientConfig.for_environment`: in the test environment the
client waits for nothing (``zero_waits``) and refuses every host but
loopback, whatever the settings say.
"""

from __future__ import annotations

from flext_infra._environment import Environment
from flext_infra.environments._profiles import ALL, ServiceSpec
from flext_infra.http._client import FlextHttpClient, create_http_client
from flext_infra.http._config import HttpClientConfig
from flext_infra.http._guard import is_loopback
from flext_infra.settings import FlextSettings


def _http_client(settings: FlextSettings) -> FlextHttpClient:
    return create_http_client(HttpClientConfig.for_environment(settings))


def _close(client: FlextHttpClient) -> None:
    client.close()


def check_http_settings(settings: FlextSettings) -> list[str]:
    """Problems with the HTTP settings for their environment (empty when fine)."""
    from urllib.parse import urlsplit

    from flext_infra._errors import ConfigurationError
    from flext_infra.settings import ApiSettings

    api = settings.api
    problems: list[str] = []
    try:
        HttpClientConfig.from_settings(api)
    except ConfigurationError as exc:
        problems.extend(f"FLEXT_API_*: {p}" for p in exc.problems)
    oauth = [api.oauth_token_url, api.oauth_client_id, api.oauth_client_secret]
    if any(oauth) and not all(oauth):
        problems.append(
            f"{ApiSettings.variable('oauth_token_url')}, {ApiSettings.variable('oauth_client_id')} "
            f"and {ApiSettings.variable('oauth_client_secret')}: set all three or none"
        )
    if settings.environment is Environment.TEST and api.base_url:
        host = urlsplit(api.base_url).hostname or ""
        if not is_loopback(host):
            problems.append(
                f"{ApiSettings.variable('base_url')}: the test environment is loopback-only "
                f"(got host {host!r})"
            )
    return problems


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "http_client",
        _http_client,
        environments=ALL,
        aliases=(FlextHttpClient,),
        cleanup=_close,
        cleanup_timeout=30.0,
        check=check_http_settings,
    ),
)
