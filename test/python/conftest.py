# Starts the built Keysafe server once per session and hands real Python AWS clients (boto3, aws CLI) to the tests.
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "dist" / "cli.js"
REGION = "us-east-1"
ACCOUNT = "000000000000"
READY_TIMEOUT_S = 20
STOP_TIMEOUT_S = 15


@dataclass(frozen=True)
class Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    token: str
    data_dir: Path
    log_path: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as res:
            return res.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _start(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    """Starts the server on a free port; retries if another process grabbed the port first."""
    last_output = ""
    for _attempt in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(log_path, "ab")  # noqa: SIM115 - the child process owns it until it exits
        proc = subprocess.Popen(
            ["node", str(CLI), "server", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
            cwd=REPO,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(data_dir)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _ready(url):
                return proc, url
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            pytest.fail(f"Keysafe server did not become ready within {READY_TIMEOUT_S}s:\n{log_path.read_text()}")
        last_output = log_path.read_text()
        if "EADDRINUSE" not in last_output:
            break
    pytest.fail(f"Keysafe server exited early (code {proc.returncode}):\n{last_output}")


@pytest.fixture(scope="session")
def server():
    if not CLI.is_file():
        pytest.fail(f"{CLI} is missing: run `npm run build` in {REPO} before the Python client tests.")
    if shutil.which("node") is None:
        pytest.fail("`node` is not on PATH; it is needed to run the Keysafe server.")
    tmp = Path(tempfile.mkdtemp(prefix="keysafe-pytest-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    log_path = tmp / "server.log"
    proc, url = _start(data_dir, log_path)
    try:
        creds = json.loads((data_dir / "admin-credentials.json").read_text())
        yield Server(
            endpoint=url,
            access_key_id=creds["accessKeyId"],
            secret_access_key=creds["secretAccessKey"],
            token=creds["token"],
            data_dir=data_dir,
            log_path=log_path,
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        output = log_path.read_text()
        shutil.rmtree(tmp, ignore_errors=True)
    assert code == 0, f"Keysafe server did not exit cleanly on SIGTERM (exit code {code}):\n{output}"


@pytest.fixture(scope="session")
def aws_env(server):
    """Environment for AWS clients: only the server's admin credentials, no user config."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    }
    env.update(
        AWS_ACCESS_KEY_ID=server.access_key_id,
        AWS_SECRET_ACCESS_KEY=server.secret_access_key,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_PAGER="",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def make_kms_client(
    server: Server, access_key_id: str | None = None, secret_access_key: str | None = None, service: str = "kms"
):
    return boto3.session.Session(
        aws_access_key_id=access_key_id or server.access_key_id,
        aws_secret_access_key=secret_access_key or server.secret_access_key,
        region_name=REGION,
    ).client(service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="session")
def secretsmanager(server):
    """A boto3 Secrets Manager client signing as the admin, one attempt per call."""
    return make_kms_client(server, service="secretsmanager")


def make_secrets_client(server: Server):
    return boto3.session.Session(
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        region_name=REGION,
    ).client("secretsmanager", endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="session", autouse=True)
def _isolated_aws_config(server):
    # boto3 sessions read these at creation time; keep a developer's ~/.aws out of the tests.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_CONFIG_FILE", "/dev/null")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def kms(server):
    return make_kms_client(server)


@pytest.fixture(scope="session")
def kms_for(server):
    """Builds a boto3 KMS client for the server with other credentials (e.g. wrong ones)."""

    def build(access_key_id: str | None = None, secret_access_key: str | None = None):
        return make_kms_client(server, access_key_id, secret_access_key)

    return build


class AwsCliError(subprocess.CalledProcessError):
    """A failed aws CLI run; its message includes the CLI's stderr."""

    def __str__(self) -> str:
        return f"{' '.join(self.cmd)} exited {self.returncode}:\n{(self.stderr or '').strip()}"


@pytest.fixture(scope="session")
def aws(server, aws_env):
    """Runs the aws CLI against the server; returns parsed JSON (None when empty); raises a CalledProcessError with stderr."""
    if shutil.which("aws", path=aws_env.get("PATH")) is None:
        pytest.fail("the `aws` CLI is not on PATH")

    def run(*args: str, output: str = "json"):
        res = subprocess.run(
            ["aws", "--endpoint-url", server.endpoint, "--output", output, *args],
            env=aws_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if res.returncode != 0:
            raise AwsCliError(res.returncode, res.args, res.stdout, res.stderr)
        if output != "json":
            return res.stdout
        return json.loads(res.stdout) if res.stdout.strip() else None

    return run
