"""TLS: verified against a self-signed sample API over HTTPS, and only built when needed."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from flext_infra.http import (
    BasicAuth,
    FatalHTTPError,
    FlextHttpClient,
    HttpClientConfig,
    create_http_client,
)
from flext_infra.http._network import NetworkTransport
from flext_infra.testing import SampleApi

from .conftest import ALLOCATION, PASSWORD, USER, MakeClient


@pytest.fixture
def tls_api(tls_cert: tuple[Path, Path]) -> Iterator[SampleApi]:
    """The sample API over HTTPS with a certificate nothing here trusts."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_cert)
    with SampleApi(records=30, username=USER, password=PASSWORD, tls=context) as server:
        yield server


def _client(api: SampleApi, *, verify_tls: bool) -> FlextHttpClient:
    return create_http_client(
        HttpClientConfig(
            base_url=api.base_url,
            auth=BasicAuth(USER, PASSWORD),
            verify_tls=verify_tls,
            zero_waits=True,
            cache_enabled=False,
            loopback_only=True,
            timeout=5.0,
            max_retries=3,
        )
    )


def test_untrusted_certificate_fails_at_once_naming_the_cause(tls_api: SampleApi) -> None:
    """A certificate that fails verification is fatal on the first attempt, with what to check."""
    client = _client(tls_api, verify_tls=True)
    try:
        with pytest.raises(FatalHTTPError) as caught:
            client.request("GET", ALLOCATION)
        metrics = client.metrics()
    finally:
        client.close()
    error = caught.value
    assert (error.reason, error.attempts, error.status) == ("tls", 1, None)
    assert "verification failed: self-signed certificate" in str(error)
    assert "FLEXT_API_VERIFY_TLS" in str(error)
    assert error.url.startswith(tls_api.base_url) and PASSWORD not in str(error)
    assert len(tls_api.requests.matching(ALLOCATION)) == 0  # never reached the handler
    host = next(iter(metrics.values()))
    assert host.get("retries", 0) == 0 and host.get("network_errors", 0) == 0


def test_https_works_when_verification_is_off(tls_api: SampleApi) -> None:
    """With verification off (allowed only outside deployed environments) HTTPS reads pages."""
    client = _client(tls_api, verify_tls=False)
    try:
        response = client.request("GET", ALLOCATION)
    finally:
        client.close()
    assert response.status_code == 200 and response.json()["results"]


def test_plain_http_never_builds_the_tls_pool(make_client: MakeClient) -> None:
    """An http:// API pays nothing for TLS: the verifying pool (the CA bundle) is never built."""
    client = make_client()
    assert client.request("GET", ALLOCATION).status_code == 200
    network = client._client._transport  # the stack's outermost layer
    while not isinstance(network, NetworkTransport):
        network = network.inner if hasattr(network, "inner") else network._transport
    assert not network.tls_ready


def test_an_https_request_builds_the_tls_pool_once(tls_api: SampleApi) -> None:
    """The TLS pool appears on the first HTTPS request and is reused after it."""
    from flext_infra.http._httpx import Limits

    network = NetworkTransport(verify_tls=False, limits=Limits(max_connections=2))
    client = create_http_client(
        HttpClientConfig(
            base_url=tls_api.base_url, auth=BasicAuth(USER, PASSWORD), zero_waits=True,
            cache_enabled=False, loopback_only=True, timeout=5.0,
        ),
        transport=network,
    )  # fmt: skip
    try:
        assert not network.tls_ready
        client.request("GET", ALLOCATION)
        pool = network._tls
        client.request("GET", ALLOCATION)
        assert network.tls_ready and network._tls is pool
    finally:
        client.close()
