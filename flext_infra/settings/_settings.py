"""Infrastructure settings: one pydantic-settings group per concern, each with its prefix.

| Group            | Prefix           |
|------------------|------------------|
| FlextSettings    | ``FLEXT_``       |
| ApiSettings      | ``FLEXT_API_``   |
| OracleSettings   | ``FLEXT_ORACLE_``|
| DatabaseSettings | ``FLEXT_DATABASE_`` |
| AlertSettings    | ``FLEXT_ALERT_`` |
| ServeSettings    | ``FLEXT_SERVE_`` |
| RunsSettings     | ``FLEXT_RUNS_``  |
| S3Settings       | ``FLEXT_S3_`` (or the standard ``AWS_*`` variables) |
| QualitySettings  | ``FLEXT_QUALITY_`` |
| MetricsSettings  | ``FLEXT_METRICS_`` |

Sources, highest priority first: explicit arguments, environment variables,
the ``.env`` file (or the file named by ``FLEXT_ENV_FILE``), and the secrets
directory named by ``FLEXT_SECRETS_DIR`` (one file per variable, as Docker and
Kubernetes mount them). Every secret is a ``SecretStr``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from flext_infra._environment import Environment
from flext_infra._errors import ConfigurationError

LogFormat = Literal["console", "json"]
Severity = Literal["low", "medium", "high", "critical"]


class SettingsGroup(BaseSettings):
    """Base of every settings group: ``.env`` aware, extra variables ignored."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )
    #: The variable prefix, kept here so errors can name the variable.
    prefix: ClassVar[str] = "FLEXT_"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        prefix = cls.model_config.get("env_prefix")
        if prefix:
            cls.prefix = prefix

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable behind ``field`` (its alias when it has one)."""
        info = cls.model_fields.get(field)
        alias = info.validation_alias if info is not None else None
        return alias.upper() if isinstance(alias, str) else f"{cls.prefix}{field.upper()}"

    def secret_values(self) -> list[str]:
        """The plain values of every secret set in this group (for log redaction)."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values


class ApiSettings(SettingsGroup):
    """The HTTP client (``FLEXT_API_*``)."""

    model_config = SettingsConfigDict(env_prefix="FLEXT_API_")

    base_url: str | None = Field(None, description="Base URL of the REST API.")
    timeout: float = Field(30.0, gt=0, description="Per-attempt timeout in seconds.")
    max_retries: int = Field(5, ge=0, le=50, description="Retries after the first attempt.")
    verify_tls: bool = Field(True, description="Verify TLS certificates.")
    username: str | None = Field(None, description="Basic auth user.")
    password: SecretStr | None = Field(None, description="Basic auth password.")
    token: SecretStr | None = Field(None, description="Bearer token.")
    api_key: SecretStr | None = Field(None, description="API key.")
    api_key_name: str = Field("X-API-Key", description="Header or query parameter of the key.")
    api_key_in: Literal["header", "query"] = Field("header", description="Where the key goes.")
    oauth_token_url: str | None = Field(None, description="OAuth2 client-credentials token URL.")
    oauth_client_id: str | None = Field(None, description="OAuth2 client id.")
    oauth_client_secret: SecretStr | None = Field(None, description="OAuth2 client secret.")
    oauth_scope: str | None = Field(None, description="OAuth2 scope (space-separated).")
    connect_timeout: float = Field(10.0, gt=0, description="Per-attempt connect timeout (s).")
    total_timeout: float | None = Field(
        300.0, gt=0, description="Budget of one request, retries and waits included (s)."
    )
    backoff_initial: float = Field(0.5, ge=0, description="First retry wait (s), doubled.")
    backoff_max: float = Field(30.0, gt=0, description="Longest backoff wait (s).")
    retry_after_cap: float = Field(120.0, ge=0, description="Longest Retry-After honoured (s).")
    retry_methods: str = Field(
        "GET,HEAD,OPTIONS,PUT,DELETE,TRACE", description="Comma-separated methods retried."
    )
    rate_limit_per_second: float | None = Field(
        None, gt=0, description="Requests per second per host (unset: no local limit)."
    )
    rate_limit_burst: int = Field(1, ge=1, description="Token-bucket burst size.")
    breaker_failure_ratio: float = Field(
        0.5, gt=0, le=1, description="Failure share that opens the circuit breaker."
    )
    breaker_window_s: float = Field(60.0, gt=0, description="Breaker sliding window (s).")
    breaker_min_calls: int = Field(10, ge=1, description="Calls in the window before it opens.")
    breaker_break_s: float = Field(30.0, ge=0, description="Open time before a probe (s).")
    cache_enabled: bool = Field(True, description="RFC 9111 HTTP cache (ETag revalidation).")
    cache_path: Path | None = Field(None, description="SQLite cache file (unset: in memory).")
    cache_url: SecretStr | None = Field(
        None,
        description="redis:// URL of a cache shared by every worker (wins over cache_path).",
    )
    cache_revalidation_window: float = Field(
        86_400.0,
        ge=0,
        description="Seconds an entry outlives its freshness, kept for ETag revalidation.",
    )
    rate_limit_url: SecretStr | None = Field(
        None,
        description="redis:// URL: the rate governor (bucket and server-hint pauses) is shared "
        "by every process using it.",
    )
    expected_workers: int = Field(
        1,
        ge=1,
        description="Processes sharing the API budget; without Redis each takes rate / this.",
    )
    redis_key_prefix: str = Field(
        "flext", min_length=1, description="First part of every Redis key (cache and governor)."
    )
    zero_waits: bool = Field(False, description="Skip every wait (tests); decisions are kept.")
    loopback_only: bool = Field(False, description="Refuse every host but loopback (tests).")


class OracleSettings(SettingsGroup):
    """The Oracle connection pool (``FLEXT_ORACLE_*``).

    The database is named in one of four ways: ``host`` + ``port`` +
    ``service_name``; ``host`` + ``port`` + ``sid``; ``dsn`` holding an Easy
    Connect string or a full connect descriptor; or ``dsn`` holding a TNS alias
    looked up in ``tnsnames.ora`` under ``config_dir`` (for an Autonomous
    Database wallet, ``config_dir`` defaults to ``wallet_location``).
    """

    model_config = SettingsConfigDict(env_prefix="FLEXT_ORACLE_")

    host: str | None = Field(None, description="Database host.")
    port: int = Field(1521, ge=1, le=65535, description="Listener port.")
    service_name: str | None = Field(None, description="Service name.")
    sid: str | None = Field(None, description="SID, for databases without a service name.")
    dsn: str | None = Field(
        None, description="Easy Connect string, full connect descriptor or TNS alias."
    )
    config_dir: Path | None = Field(
        None, description="Directory holding tnsnames.ora (for a TNS alias in dsn)."
    )
    user: str | None = Field(None, description="Database user.")
    password: SecretStr | None = Field(None, description="Database password.")
    protocol: Literal["tcp", "tcps"] = Field("tcp", description="tcp, or tcps for TLS.")
    wallet_location: Path | None = Field(None, description="Wallet directory (TCPS).")
    wallet_password: SecretStr | None = Field(None, description="Wallet password.")
    ssl_server_dn_match: bool = Field(
        True, description="TCPS: check the server certificate's DN against the host."
    )
    ssl_server_cert_dn: str | None = Field(
        None, description="TCPS: the exact DN expected on the server certificate."
    )
    pool_min: int = Field(2, ge=0, description="Minimum pool size.")
    pool_max: int = Field(2, ge=1, description="Maximum pool size.")
    pool_increment: int = Field(
        0, ge=0, description="Connections opened at once when the pool grows (0: fixed size)."
    )
    pool_getmode: Literal["wait", "nowait", "forceget", "timedwait"] = Field(
        "timedwait", description="What acquire() does when every connection is busy."
    )
    pool_wait_timeout: int = Field(
        10_000, ge=0, description="timedwait: milliseconds acquire() waits for a connection."
    )
    max_lifetime_session: int = Field(
        0, ge=0, description="Seconds a pooled session may live (0: no limit)."
    )
    ping_interval: int = Field(
        60, ge=-1, description="Seconds idle before acquire() pings the connection (-1: never)."
    )
    tcp_connect_timeout: float = Field(
        10.0, gt=0, description="Seconds to establish the TCP connection to the listener."
    )
    retry_count: int = Field(0, ge=0, le=20, description="Connection attempts retried.")
    retry_delay: int = Field(1, ge=0, description="Seconds between connection retries.")
    call_timeout: int = Field(
        0, ge=0, description="Milliseconds one database round trip may take (0: no limit)."
    )
    current_schema: str | None = Field(
        None, description="ALTER SESSION SET CURRENT_SCHEMA for every pooled session."
    )
    nls_date_format: str | None = Field(None, description="Session NLS_DATE_FORMAT.")
    nls_timestamp_format: str | None = Field(None, description="Session NLS_TIMESTAMP_FORMAT.")
    nls_timestamp_tz_format: str | None = Field(
        None, description="Session NLS_TIMESTAMP_TZ_FORMAT."
    )
    nls_numeric_characters: str | None = Field(
        None, description="Session NLS_NUMERIC_CHARACTERS (decimal and group, e.g. '.,')."
    )
    time_zone: str | None = Field(None, description="Session TIME_ZONE, e.g. 'UTC' or '+00:00'.")
    thick_lib_dir: Path | None = Field(
        None, description="Oracle Client library directory: set only to use thick mode."
    )
    close_grace_seconds: float = Field(
        10.0, ge=0, description="On dispose, seconds to wait for busy connections to return."
    )

    @property
    def configured(self) -> bool:
        """True when enough is set to try connecting."""
        return bool((self.host or self.dsn) and self.user)

    def problems(self) -> list[str]:
        """Why these settings cannot name one database (empty when they can)."""
        var = type(self).variable
        out: list[str] = []
        if not self.user:
            out.append(f"{var('user')}: not set")
        if not (self.host or self.dsn):
            out.append(f"{var('host')} (with {var('service_name')}) or {var('dsn')}: not set")
        if self.host and self.dsn:
            out.append(f"{var('host')} and {var('dsn')}: set only one of them")
        if self.host and not (self.service_name or self.sid):
            out.append(f"{var('service_name')} or {var('sid')}: needed with {var('host')}")
        if self.service_name and self.sid:
            out.append(f"{var('service_name')} and {var('sid')}: set only one of them")
        if self.pool_min > self.pool_max:
            out.append(f"{var('pool_min')}: must not exceed {var('pool_max')}")
        return out


class DatabaseSettings(SettingsGroup):
    """A non-Oracle database given as a SQLAlchemy URL (``FLEXT_DATABASE_*``)."""

    model_config = SettingsConfigDict(env_prefix="FLEXT_DATABASE_", populate_by_name=True)

    url: SecretStr | None = Field(
        None, description="SQLAlchemy URL, e.g. postgresql+psycopg://u:p@host/db."
    )
    sqlite_busy_timeout: float = Field(
        30.0, ge=0, description="SQLite: seconds a writer waits for a lock before failing."
    )
    sqlite_file: str = Field(
        "flext.db", description="SQLite file name under the data directory (development)."
    )
    pool_size: int = Field(5, ge=1, description="Connections kept by the SQLAlchemy pool.")
    max_overflow: int = Field(5, ge=0, description="Extra connections beyond pool_size.")
    pool_timeout: float = Field(
        30.0, gt=0, description="Seconds acquire() waits for a pooled connection."
    )
    connect_timeout: int = Field(10, ge=1, description="Seconds to connect (PostgreSQL).")
    close_grace_seconds: float = Field(
        10.0, ge=0, description="On dispose, seconds to wait for busy connections to return."
    )
    test_postgres_url: SecretStr | None = Field(
        None,
        validation_alias="FLEXT_TEST_POSTGRES_URL",
        description="Test profile: use this PostgreSQL URL instead of a temporary SQLite file.",
    )


class AlertSettings(SettingsGroup):
    """Alert channels (``FLEXT_ALERT_*``)."""

    model_config = SettingsConfigDict(env_prefix="FLEXT_ALERT_")

    webhook_url: SecretStr | None = Field(None, description="Generic JSON webhook URL.")
    slack_webhook_url: SecretStr | None = Field(None, description="Slack incoming webhook URL.")
    smtp_host: str | None = Field(None, description="SMTP server host.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_user: str | None = Field(None, description="SMTP user.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    email_from: str | None = Field(None, description="Sender address.")
    email_to: str | None = Field(None, description="Comma-separated recipients.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (port 587), ssl (implicit TLS, port 465) or none."
    )
    smtp_timeout: float = Field(10.0, gt=0, description="SMTP connect/command timeout (s).")
    smtp_ca_file: Path | None = Field(
        None, description="CA bundle to verify the SMTP server (default: system CAs)."
    )
    pipeline_name: str = Field("flext", description="Pipeline name put on every alert.")
    log_min_severity: Severity = Field("low", description="Minimum severity for the log.")
    webhook_min_severity: Severity = Field("medium", description="Minimum for the webhook.")
    slack_min_severity: Severity = Field("medium", description="Minimum for Slack.")
    email_min_severity: Severity = Field("high", description="Minimum for email.")
    cooldown_s: float = Field(
        900.0, ge=0, description="Repeats of one fingerprint are held back this long (s)."
    )
    retry_attempts: int = Field(3, ge=1, le=10, description="Delivery attempts per channel.")
    retry_backoff_s: float = Field(1.0, ge=0, description="First retry wait (s), doubled.")
    retry_backoff_max_s: float = Field(30.0, ge=0, description="Cap on one retry wait (s).")
    http_timeout: float = Field(10.0, gt=0, description="Webhook/Slack request timeout (s).")
    state_file: Path | None = Field(
        None, description="JSON file keeping dedup/resolve state across runs."
    )
    record_dir: Path | None = Field(
        None, description="Test profile: append every alert to <dir>/alerts.jsonl."
    )


class ServeSettings(SettingsGroup):
    """``flext serve``: the operations HTTP server (``FLEXT_SERVE_*``).

    Staging and production refuse to serve without ``token``; the check lives in
    ``flext serve`` (a pipeline run in staging needs no serving token).
    """

    model_config = SettingsConfigDict(env_prefix="FLEXT_SERVE_")

    token: SecretStr | None = Field(
        None, description="Bearer token for the ledger, jobs and status page (required deployed)."
    )
    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in a container).")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on (0 picks a free one).")
    metrics_require_token: bool = Field(
        False, description="Protect /metrics with the token too (open by default for scrapers)."
    )
    status_page_open: bool = Field(
        False, description="Serve the status page (/) without the token."
    )
    rate_limit_per_minute: int = Field(
        120, ge=1, description="Requests per minute per client on the token-protected endpoints."
    )
    max_body_bytes: int = Field(
        65_536, ge=0, description="Largest request body accepted (413 above it)."
    )
    cors_origins: str | None = Field(
        None, description="Comma-separated origins allowed by CORS (unset: CORS off)."
    )
    ready_timeout: float = Field(
        5.0, gt=0, description="Seconds the /ready API probe may take, waits included."
    )
    graceful_timeout: float = Field(
        30.0, ge=0, description="On SIGTERM, seconds in-flight requests get to finish."
    )
    project_root: Path | None = Field(
        None, description="The Meltano project whose jobs are shown (default: from the cwd up)."
    )

    def cors_origin_list(self) -> list[str]:
        """The configured CORS origins (empty: CORS off)."""
        return [o.strip() for o in (self.cors_origins or "").split(",") if o.strip()]


class RunsSettings(SettingsGroup):
    """The run ledger and the run lock (``FLEXT_RUNS_*``)."""

    model_config = SettingsConfigDict(env_prefix="FLEXT_RUNS_", populate_by_name=True)

    url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the ledger's database (default: the configured database: "
        "Oracle, FLEXT_DATABASE_URL, or SQLite under the data directory).",
    )
    schema_name: str | None = Field(
        None,
        validation_alias="FLEXT_RUNS_SCHEMA",
        description="Schema holding flext_runs, flext_run_streams and flext_run_locks "
        "(default: the connection's own).",
    )
    lock_ttl_s: float = Field(
        60.0,
        gt=0,
        description="Seconds after its last heartbeat (sent every third of this) that a run "
        "reads as abandoned and its lock may be taken over.",
    )
    retention_days: int | None = Field(
        90, ge=1, description="Finished runs older than this are pruned (unset: kept forever)."
    )
    record_plugin_runs: bool = Field(
        True, description="The tap and the target record their own runs in the ledger."
    )
    trigger: Literal["cli", "schedule", "orchestrator"] = Field(
        "cli", description="What started the run; flext run passes its own to the plugins."
    )
    stop_grace_s: float = Field(
        30.0,
        ge=0,
        description="flext run: seconds Meltano's process group gets to stop after SIGTERM "
        "(timeout or a signal) before it is killed.",
    )


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class S3Settings(SettingsGroup):
    """S3-compatible object storage (``FLEXT_S3_*``, or the standard ``AWS_*`` variables).

    Each field reads its ``FLEXT_S3_`` variable first, then the standard AWS one.
    Unset credentials leave the AWS default chain (profiles, instance roles) to
    boto. ``addressing_style`` ``auto`` means path-style when ``endpoint_url``
    names an S3-compatible server, and virtual-hosted style on AWS.
    """

    model_config = SettingsConfigDict(env_prefix="FLEXT_S3_", populate_by_name=True)

    access_key_id: SecretStr | None = Field(
        default=None,
        validation_alias=_env("FLEXT_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        description="Access key id (or AWS_ACCESS_KEY_ID).",
    )
    secret_access_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("FLEXT_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        description="Secret access key (or AWS_SECRET_ACCESS_KEY).",
    )
    session_token: SecretStr | None = Field(
        default=None,
        validation_alias=_env("FLEXT_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"),
        description="Temporary session token (or AWS_SESSION_TOKEN).",
    )
    endpoint_url: str | None = Field(
        default=None,
        validation_alias=_env("FLEXT_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
        description="Endpoint of an S3-compatible server (unset: AWS).",
    )
    region: str | None = Field(
        default=None,
        validation_alias=_env("FLEXT_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="Region (or AWS_REGION).",
    )
    addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto",
        validation_alias=_env("FLEXT_S3_ADDRESSING_STYLE"),
        description="Bucket addressing; auto is path-style with endpoint_url, virtual on AWS.",
    )

    @classmethod
    def variable(cls, field: str) -> str:
        """The ``FLEXT_S3_`` variable behind ``field`` (the first of its aliases)."""
        info = cls.model_fields.get(field)
        alias = info.validation_alias if info is not None else None
        if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
            return alias.choices[0]
        return super().variable(field)


class QualitySettings(SettingsGroup):
    """Data quality outputs (``FLEXT_QUALITY_*``)."""

    model_config = SettingsConfigDict(env_prefix="FLEXT_QUALITY_")

    reject_url: str | None = Field(
        None,
        description="Where rejected records go: a directory or s3://bucket/prefix "
        "(default: <data_dir>/rejects).",
    )


class MetricsSettings(SettingsGroup):
    """Prometheus metrics pushed after batch runs (``FLEXT_METRICS_*``)."""

    model_config = SettingsConfigDict(env_prefix="FLEXT_METRICS_")

    pushgateway_url: str | None = Field(
        None, description="Push each run's metrics to this Pushgateway (e.g. http://pgw:9091)."
    )
    pushgateway_username: str | None = Field(None, description="Pushgateway basic auth user.")
    pushgateway_password: SecretStr | None = Field(
        None, description="Pushgateway basic auth password."
    )
    textfile_dir: Path | None = Field(
        None, description="Write each run's metrics to <dir>/flext_<job>.prom (node_exporter)."
    )
    instance: str | None = Field(
        None, description="The instance label of pushed metrics (default: the host name)."
    )
    push_timeout_s: float = Field(10.0, gt=0, description="Seconds one push may take.")

    @property
    def enabled(self) -> bool:
        """True when a Pushgateway or a textfile directory is configured."""
        return bool(self.pushgateway_url) or self.textfile_dir is not None


class RootSettings(SettingsGroup):
    """Process-wide settings (``FLEXT_*``)."""

    model_config = SettingsConfigDict(env_prefix="FLEXT_")

    environment: Environment = Field(Environment.DEVELOPMENT, description="Deployment environment.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="Minimum log level."
    )
    log_format: LogFormat | None = Field(
        None, description="console or json; by default console in development and test."
    )
    data_dir: Path = Field(Path(".flext"), description="Where local files are kept.")


#: Every group, by attribute name on :class:`FlextSettings`.
GROUPS: dict[str, type[SettingsGroup]] = {
    "api": ApiSettings,
    "oracle": OracleSettings,
    "database": DatabaseSettings,
    "alert": AlertSettings,
    "serve": ServeSettings,
    "runs": RunsSettings,
    "s3": S3Settings,
    "quality": QualitySettings,
    "metrics": MetricsSettings,
}


#: ``FLEXT_*`` variables read outside the groups (``load_settings`` itself, the Dagster code).
OTHER_VARIABLES = frozenset({"FLEXT_ENV_FILE", "FLEXT_SECRETS_DIR", "FLEXT_PROJECT_DIR"})
#: Prefixes of variables that belong to the test suites, not to the product.
OTHER_PREFIXES = ("FLEXT_TEST_",)


def known_variables() -> frozenset[str]:
    """Every ``FLEXT_*`` variable the settings layer reads."""
    names = set(OTHER_VARIABLES)
    groups: list[type[SettingsGroup]] = [RootSettings, *GROUPS.values()]
    for group in groups:
        for name, field in group.model_fields.items():
            names.add(group.variable(name))
            alias = field.validation_alias
            if isinstance(alias, str):
                names.add(alias.upper())
    return frozenset(names)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """``FLEXT_*`` variables set in ``environ`` that no setting reads, each with the closest known.

    A typo (``FLEXT_API_TIMOUT``) is otherwise silently ignored, leaving the
    default in force.
    """
    environ = os.environ if environ is None else environ
    known = known_variables()
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("FLEXT_") or upper in known or upper.startswith(OTHER_PREFIXES):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.8)
        found.append((name, close[0] if close else None))
    return found


class FlextSettings:
    """All settings groups, loaded and checked together.

    Build it with :func:`load_settings`. Attributes
    are the groups (``settings.api.timeout``) plus the root fields
    (``settings.environment``), and :attr:`unknown_variables`.
    """

    def __init__(
        self,
        root: RootSettings,
        api: ApiSettings,
        oracle: OracleSettings,
        database: DatabaseSettings,
        alert: AlertSettings,
        serve: ServeSettings,
        runs: RunsSettings | None = None,
        s3: S3Settings | None = None,
        quality: QualitySettings | None = None,
        metrics: MetricsSettings | None = None,
    ) -> None:
        self.root = root
        self.api = api
        self.oracle = oracle
        self.database = database
        self.alert = alert
        self.serve = serve
        self.runs = runs if runs is not None else RunsSettings.model_construct()
        self.s3 = s3 if s3 is not None else S3Settings.model_construct()
        self.quality = quality if quality is not None else QualitySettings.model_construct()
        self.metrics = metrics if metrics is not None else MetricsSettings.model_construct()
        #: ``FLEXT_*`` variables no setting reads, with the closest known name
        #: (warned about once logging is configured; see ``configure_logging``).
        self.unknown_variables: list[tuple[str, str | None]] = []

    @property
    def environment(self) -> Environment:
        """The deployment environment."""
        return self.root.environment

    @property
    def log_level(self) -> str:
        """The minimum log level."""
        return self.root.log_level

    @property
    def log_format(self) -> LogFormat:
        """The log renderer: console in development and test, JSON when deployed."""
        if self.root.log_format is not None:
            return self.root.log_format
        return "json" if self.environment.is_deployed else "console"

    @property
    def data_dir(self) -> Path:
        """Where local files (the SQLite database, caches, rejects) are kept."""
        return self.root.data_dir

    def groups(self) -> dict[str, SettingsGroup]:
        """Every group by name, the root as ``"root"``."""
        return {"root": self.root, **{name: getattr(self, name) for name in GROUPS}}

    def secret_values(self) -> list[str]:
        """Every secret value set anywhere, for the log redaction processor."""
        return [v for group in self.groups().values() for v in group.secret_values()]

    def redacted(self) -> dict[str, dict[str, Any]]:
        """A plain dict of every setting with secrets shown as ``**********``."""
        out: dict[str, dict[str, Any]] = {}
        for name, group in self.groups().items():
            out[name] = {
                field: ("**********" if isinstance(v, SecretStr) else v)
                for field, v in group.model_dump().items()
            }
        return out


def _describe(group: type[SettingsGroup], exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else ""
        var = group.variable(field) if field else group.prefix + "*"
        annotation = group.model_fields[field].annotation if field in group.model_fields else None
        secret = "SecretStr" in repr(annotation)
        got = "" if secret or err["type"] == "missing" else f" (got {err['input']!r})"
        lines.append(f"{var}: {err['msg']}{got}")
    return lines


def load_settings(
    *,
    env_file: str | Path | None = None,
    secrets_dir: str | Path | None = None,
    environment: Environment | str | None = None,
) -> FlextSettings:
    """Read every settings group and check them together.

    Args:
        env_file: The ``.env`` file to read. Defaults to ``FLEXT_ENV_FILE`` or ``.env``.
        secrets_dir: A directory of one-file-per-variable secrets. Defaults to
            ``FLEXT_SECRETS_DIR``.
        environment: Overrides ``FLEXT_ENVIRONMENT``.

    Raises:
        ConfigurationError: one line per invalid variable, naming it.
    """
    env_file = env_file or os.environ.get("FLEXT_ENV_FILE") or ".env"
    secrets_dir = secrets_dir or os.environ.get("FLEXT_SECRETS_DIR")
    sources: dict[str, Any] = {"_env_file": env_file}
    if secrets_dir:
        if not Path(secrets_dir).is_dir():
            raise ConfigurationError(f"FLEXT_SECRETS_DIR: {secrets_dir} is not a directory")
        sources["_secrets_dir"] = secrets_dir

    problems: list[str] = []
    built: dict[str, SettingsGroup] = {}
    overrides: dict[str, Any] = {}
    if environment is not None:
        overrides["environment"] = Environment(environment)
    all_groups: dict[str, type[SettingsGroup]] = {"root": RootSettings, **GROUPS}
    for name, group in all_groups.items():
        try:
            built[name] = group(**sources, **(overrides if name == "root" else {}))
        except ValidationError as exc:
            problems.extend(_describe(group, exc))
    if problems:
        raise ConfigurationError(problems)

    settings = FlextSettings(**built)  # type: ignore[arg-type]
    problems.extend(_environment_rules(settings))
    if problems:
        raise ConfigurationError(problems)
    settings.unknown_variables = unknown_variables()
    return settings


def _environment_rules(settings: FlextSettings) -> list[str]:
    """Checks that depend on the environment."""
    problems = []
    env = settings.environment
    if env.is_deployed and not settings.api.verify_tls:
        problems.append(
            f"{ApiSettings.variable('verify_tls')}: TLS verification cannot be disabled in {env}"
        )
    if settings.oracle.pool_min > settings.oracle.pool_max:
        problems.append(
            f"{OracleSettings.variable('pool_min')}: must not exceed "
            f"{OracleSettings.variable('pool_max')} "
            f"({settings.oracle.pool_min} > {settings.oracle.pool_max})"
        )
    return problems
