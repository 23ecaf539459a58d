# Support for the web identity tests: a real OIDC signing key (JWKS file + Kubernetes-shaped tokens signed with
# `cryptography`), a dedicated Keysafe server started from a config file, and an AWS environment that holds
# nothing but web identity settings.
import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "dist" / "cli.js"
READY_TIMEOUT_S = 20
STOP_TIMEOUT_S = 15


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint_b64url(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class OidcSigner:
    """An RS256 signing key of an OIDC issuer (like a Kubernetes API server's service-account issuer)."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.kid = uuid.uuid4().hex
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict:
        numbers = self._key.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": _uint_b64url(numbers.n), "e": _uint_b64url(numbers.e)}
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def sign(self, payload: dict) -> str:
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}"
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def kubernetes_token(
        self, namespace: str, service_account: str, audience: str = "keysafe", lifetime: int = 3600
    ) -> str:
        """A token shaped like a projected service-account token (kubelet's default lifetime is 1 h)."""
        now = int(time.time())
        pod = f"{service_account}-7d4b9c-x2xq9"
        return self.sign(
            {
                "aud": [audience],
                "exp": now + lifetime,
                "iat": now,
                "nbf": now,
                "iss": self.issuer,
                "jti": str(uuid.uuid4()),
                "kubernetes.io": {
                    "namespace": namespace,
                    "node": {"name": "node-1", "uid": str(uuid.uuid4())},
                    "pod": {"name": pod, "uid": str(uuid.uuid4())},
                    "serviceaccount": {"name": service_account, "uid": str(uuid.uuid4())},
                },
                "sub": f"system:serviceaccount:{namespace}:{service_account}",
            }
        )


@dataclass(frozen=True)
class AdminCredentials:
    access_key_id: str
    secret_access_key: str


class KeysafeProcess:
    """`node dist/cli.js server` on a free loopback port; `stop()` sends SIGTERM and returns the exit code."""

    def __init__(self, data_dir: Path, log_path: Path, config: Path | None = None):
        self.data_dir = data_dir
        self.log_path = log_path
        self._proc, self.endpoint = self._start(config)

    @property
    def admin(self) -> AdminCredentials:
        creds = json.loads((self.data_dir / "admin-credentials.json").read_text())
        return AdminCredentials(creds["accessKeyId"], creds["secretAccessKey"])

    def _start(self, config: Path | None) -> tuple[subprocess.Popen, str]:
        output = ""
        for _attempt in range(3):  # another process may grab the free port first
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            args = ["node", str(CLI), "server", "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data_dir)]
            if config is not None:
                args += ["--config", str(config)]
            with open(self.log_path, "ab") as log:
                proc = subprocess.Popen(
                    args,
                    cwd=REPO,
                    env={"PATH": os.environ.get("PATH", ""), "HOME": str(self.data_dir)},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + READY_TIMEOUT_S
            while time.monotonic() < deadline and proc.poll() is None:
                if _ready(url):
                    return proc, url
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"Keysafe did not become ready in {READY_TIMEOUT_S}s:\n{self.log_path.read_text()}")
            output = self.log_path.read_text()
            if "EADDRINUSE" not in output:
                break
        raise RuntimeError(f"Keysafe exited early (code {proc.returncode}):\n{output}")

    def stop(self) -> int | None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            return None


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


def web_identity_env(
    home: Path, endpoint: str, token_file: Path, role_arn: str, session_name: str | None = None
) -> dict[str, str]:
    """
    The environment of a workload configured only for web identity: no static keys, no profile, and a HOME
    without ~/.aws; the config and credentials files point at paths that do not exist.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_")
        and k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "PYTHONPATH")
    }
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "no-such-dir" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-such-dir" / "credentials"),
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_ARN=role_arn,
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
        NO_PROXY="127.0.0.1,localhost",
    )
    if session_name is not None:
        env["AWS_ROLE_SESSION_NAME"] = session_name
    return env
