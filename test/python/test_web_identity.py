# Workloads that know Keysafe only through AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN / AWS_ENDPOINT_URL:
# boto3 and the aws CLI in child processes exchange a Kubernetes-shaped token for STS credentials and are held
# to their role's policy. The issuer's keys come from a JWKS file; the tokens are signed here.
import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from web_identity_server import KeysafeProcess, OidcSigner, web_identity_env

REGION = "us-east-1"
ACCOUNT = "000000000000"
ISSUER = "https://kubernetes.default.svc.cluster.local"
ROLE = "web"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
OWN_SECRET, OWN_VALUE = "shop/web/db", "web-db-password"
OTHER_SECRET, OTHER_VALUE = "shop/api/db", "api-db-password"
CHILD_TIMEOUT_S = 30


@dataclass(frozen=True)
class Deployment:
    endpoint: str
    signer: OidcSigner
    tmp: Path
    own_key_arn: str
    other_key_arn: str
    own_ciphertext: bytes  # made by the admin under the workload's key
    other_ciphertext: bytes  # made by the admin under another workload's key


def role_config(own_key_arn: str) -> dict:
    return {
        "name": ROLE,
        "issuer": "cluster",
        "subjects": ["system:serviceaccount:shop:web"],
        "claims": {"kubernetes.io.namespace": "shop", "kubernetes.io.serviceaccount.name": "web"},
        "sessionTtl": "15m",
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OwnSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": "arn:aws:secretsmanager:*:*:secret:shop/web/*",
                },
                {
                    "Sid": "OwnKey",
                    "Effect": "Allow",
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": own_key_arn,
                },
            ],
        },
    }


def admin_client(server: KeysafeProcess, service: str):
    admin = server.admin
    return boto3.session.Session(
        aws_access_key_id=admin.access_key_id, aws_secret_access_key=admin.secret_access_key, region_name=REGION
    ).client(service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def deployment():
    """
    Provisions secrets and keys with the admin credentials, then restarts the server with a config file whose
    issuer reads a JWKS file and whose role's policy names the workload's key ARN, as an operator would.
    """
    tmp = Path(tempfile.mkdtemp(prefix="keysafe-web-identity-"))
    data_dir, log_path = tmp / "data", tmp / "server.log"
    data_dir.mkdir()
    signer = OidcSigner(ISSUER)
    jwks_file = tmp / "jwks" / "keys.json"
    jwks_file.parent.mkdir()
    jwks_file.write_text(json.dumps(signer.jwks()))
    server = None
    try:
        server = KeysafeProcess(data_dir, log_path)
        sm, kms = admin_client(server, "secretsmanager"), admin_client(server, "kms")
        sm.create_secret(Name=OWN_SECRET, SecretString=OWN_VALUE)
        sm.create_secret(Name=OTHER_SECRET, SecretString=OTHER_VALUE)
        own_key = kms.create_key(Description="web")["KeyMetadata"]["Arn"]
        other_key = kms.create_key(Description="api")["KeyMetadata"]["Arn"]
        own_ct = kms.encrypt(KeyId=own_key, Plaintext=b"sealed for web")["CiphertextBlob"]
        other_ct = kms.encrypt(KeyId=other_key, Plaintext=b"sealed for api")["CiphertextBlob"]
        assert server.stop() == 0, log_path.read_text()

        config = tmp / "keysafe.yaml"
        config.write_text(
            json.dumps(
                {
                    "issuers": [
                        {"name": "cluster", "issuer": ISSUER, "audiences": ["keysafe"], "jwksFile": str(jwks_file)}
                    ],
                    "roles": [role_config(own_key)],
                },
                indent=2,
            )
        )
        server = KeysafeProcess(data_dir, log_path, config)
        yield Deployment(server.endpoint, signer, tmp, own_key, other_key, own_ct, other_ct)
        code = server.stop()
        server = None
        assert code == 0, f"Keysafe did not exit cleanly on SIGTERM (exit code {code}):\n{log_path.read_text()}"
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def workload_env(deployment, tmp_path):
    """Builds the env of a pod: its projected token in a file, the role ARN and the endpoint; nothing else."""

    def build(service_account: str = "web", session_name: str | None = None) -> dict[str, str]:
        token_file = tmp_path / f"token-{service_account}"
        token_file.write_text(deployment.signer.kubernetes_token("shop", service_account))
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        return web_identity_env(home, deployment.endpoint, token_file, ROLE_ARN, session_name)

    return build


# Runs in the child: every call's outcome as JSON, errors as their AWS code, message and HTTP status.
WORKLOAD_PRELUDE = """
import base64, json, sys
import boto3
from botocore.exceptions import ClientError

def attempt(call):
    try:
        return {"ok": call()}
    except ClientError as e:
        err, status = e.response["Error"], e.response["ResponseMetadata"]["HTTPStatusCode"]
        return {"error": err["Code"], "message": err["Message"], "status": status}

args = json.loads(sys.argv[1])
"""


def run_boto3(env: dict[str, str], body: str, **args) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", WORKLOAD_PRELUDE + body, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    assert res.returncode == 0, f"boto3 workload exited {res.returncode}:\n{res.stderr}"
    return json.loads(res.stdout)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    if shutil.which("aws", path=env.get("PATH")) is None:
        pytest.fail("the `aws` CLI is not on PATH")
    # No --endpoint-url: the CLI finds Keysafe through AWS_ENDPOINT_URL like the SDK.
    return subprocess.run(
        ["aws", "--output", "json", *args], env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
    )


def test_boto3_workload_reads_its_own_secret_and_is_denied_another_workloads_secret(workload_env):
    out = run_boto3(
        workload_env(),
        """
creds = boto3.session.Session().get_credentials()
sm = boto3.client("secretsmanager")
print(json.dumps({
    "method": creds.method,
    "access_key_prefix": creds.get_frozen_credentials().access_key[:4],
    "own": attempt(lambda: sm.get_secret_value(SecretId=args["own"])["SecretString"]),
    "other": attempt(lambda: sm.get_secret_value(SecretId=args["other"])["SecretString"]),
}))
""",
        own=OWN_SECRET,
        other=OTHER_SECRET,
    )
    # The credentials came from AssumeRoleWithWebIdentity, not from any static key.
    assert out["method"] == "assume-role-with-web-identity"
    assert out["access_key_prefix"] == "ASIA"
    assert out["own"] == {"ok": OWN_VALUE}
    other = out["other"]
    assert other["error"] == "AccessDeniedException", other
    assert other["status"] == 400
    assert "secretsmanager:GetSecretValue" in other["message"]
    assert OTHER_SECRET in other["message"]
    assert OTHER_VALUE not in other["message"]


def test_boto3_workload_encrypts_and_decrypts_with_its_key_and_is_denied_another_key(deployment, workload_env):
    out = run_boto3(
        workload_env(),
        """
kms = boto3.client("kms")
b64 = lambda b: base64.b64encode(b).decode()
own = kms.encrypt(KeyId=args["own_key"], Plaintext=b"card 4111", EncryptionContext={"app": "web"})
print(json.dumps({
    "own_key": own["KeyId"],
    "round_trip": attempt(lambda: kms.decrypt(
        CiphertextBlob=own["CiphertextBlob"], EncryptionContext={"app": "web"})["Plaintext"].decode()),
    "admin_made": attempt(lambda: kms.decrypt(
        CiphertextBlob=base64.b64decode(args["own_ct"]))["Plaintext"].decode()),
    "encrypt_other": attempt(lambda: b64(kms.encrypt(KeyId=args["other_key"], Plaintext=b"x")["CiphertextBlob"])),
    "decrypt_other": attempt(lambda: kms.decrypt(
        CiphertextBlob=base64.b64decode(args["other_ct"]))["Plaintext"].decode()),
}))
""",
        own_key=deployment.own_key_arn,
        other_key=deployment.other_key_arn,
        own_ct=base64.b64encode(deployment.own_ciphertext).decode(),
        other_ct=base64.b64encode(deployment.other_ciphertext).decode(),
    )
    assert out["own_key"] == deployment.own_key_arn
    assert out["round_trip"] == {"ok": "card 4111"}
    assert out["admin_made"] == {"ok": "sealed for web"}
    for action, outcome in (("kms:Encrypt", out["encrypt_other"]), ("kms:Decrypt", out["decrypt_other"])):
        assert outcome.get("error") == "AccessDeniedException", (action, outcome)
        assert outcome["status"] == 400
        assert action in outcome["message"]
        assert deployment.other_key_arn.split("/")[-1] in outcome["message"]
        assert "sealed for api" not in outcome["message"]


def test_boto3_get_caller_identity_names_the_assumed_role_and_session(workload_env):
    out = run_boto3(
        workload_env(session_name="web-7d4b9c-x2xq9"),
        """
print(json.dumps(boto3.client("sts").get_caller_identity()))
""",
    )
    assert out["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/web-7d4b9c-x2xq9"
    assert out["Account"] == ACCOUNT
    assert re.fullmatch(r"AROA[0-9A-Z]+:web-7d4b9c-x2xq9", out["UserId"]), out["UserId"]


def test_boto3_gets_no_credentials_for_a_service_account_the_role_does_not_bind(workload_env):
    out = run_boto3(
        workload_env(service_account="api"),
        """
sm = boto3.client("secretsmanager")
print(json.dumps(attempt(lambda: sm.get_secret_value(SecretId=args["own"])["SecretString"])))
""",
        own=OWN_SECRET,
    )
    assert out.get("error") == "IDPRejectedClaim", out
    assert out["status"] == 403
    assert "web" in out["message"]


def test_aws_cli_reads_its_own_secret_and_is_denied_another_workloads_secret(workload_env):
    env = workload_env()
    own = run_cli(env, "secretsmanager", "get-secret-value", "--secret-id", OWN_SECRET)
    assert own.returncode == 0, own.stderr
    assert json.loads(own.stdout)["SecretString"] == OWN_VALUE

    other = run_cli(env, "secretsmanager", "get-secret-value", "--secret-id", OTHER_SECRET)
    assert other.returncode != 0, other.stdout
    assert "AccessDeniedException" in other.stderr
    assert "secretsmanager:GetSecretValue" in other.stderr
    assert OTHER_SECRET in other.stderr
    assert OTHER_VALUE not in other.stderr + other.stdout


def test_aws_cli_get_caller_identity_reports_the_assumed_role_with_botocore_session_name(workload_env):
    # No AWS_ROLE_SESSION_NAME: botocore names the session itself, and the ARN carries that name.
    res = run_cli(workload_env(), "sts", "get-caller-identity")
    assert res.returncode == 0, res.stderr
    identity = json.loads(res.stdout)
    assert re.fullmatch(rf"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/botocore-session-\d+", identity["Arn"]), identity
    assert identity["Account"] == ACCOUNT
    assert identity["UserId"].endswith(":" + identity["Arn"].rsplit("/", 1)[1])


def test_aws_cli_encrypts_with_its_key_and_is_denied_another_key(deployment, workload_env):
    env = workload_env()
    own = run_cli(env, "kms", "encrypt", "--key-id", deployment.own_key_arn, "--plaintext", "aGVsbG8=")
    assert own.returncode == 0, own.stderr
    assert json.loads(own.stdout)["KeyId"] == deployment.own_key_arn

    other = run_cli(env, "kms", "encrypt", "--key-id", deployment.other_key_arn, "--plaintext", "aGVsbG8=")
    assert other.returncode != 0, other.stdout
    assert "AccessDeniedException" in other.stderr
    assert "kms:Encrypt" in other.stderr
