# The aws CLI (v1) against a running Keysafe server: Secrets Manager as operators drive it from a shell.
import json
import re
import string
import time
import uuid
from subprocess import CalledProcessError

import pytest

RANDOM_PASSWORD_STRATEGY = "keysafe:rotation:random-password"
ROTATION_TIMEOUT_S = 10
DAY_S = 24 * 3600


def unique_name(prefix: str) -> str:
    return f"pytest-cli/{prefix}-{uuid.uuid4().hex[:12]}"


def version_stages(aws, name: str, *extra: str) -> dict[str, list[str]]:
    """VersionId -> labels, from list-secret-version-ids (the CLI follows NextToken itself)."""
    versions = aws("secretsmanager", "list-secret-version-ids", "--secret-id", name, *extra)["Versions"]
    return {v["VersionId"]: sorted(v.get("VersionStages", [])) for v in versions}


def secret_string(aws, name: str, *extra: str) -> str:
    out = aws(
        "secretsmanager", "get-secret-value", "--secret-id", name, *extra, "--query", "SecretString", output="text"
    )
    return out.rstrip("\n")


def wait_for_rotation(aws, name: str) -> dict:
    """Polls describe-secret until no version carries AWSPENDING; returns the last description."""
    deadline = time.monotonic() + ROTATION_TIMEOUT_S
    while True:
        desc = aws("secretsmanager", "describe-secret", "--secret-id", name)
        if not any("AWSPENDING" in s for s in desc.get("VersionIdsToStages", {}).values()):
            return desc
        if time.monotonic() > deadline:
            pytest.fail(f"rotation did not finish within {ROTATION_TIMEOUT_S}s: {desc}")
        time.sleep(0.2)


def test_cli_secret_lifecycle_end_to_end(aws):
    name = unique_name("lifecycle")
    initial = json.dumps({"username": "ops", "password": "initial-pass"})

    # create-secret with a JSON string, read back as text.
    created = aws("secretsmanager", "create-secret", "--name", name, "--secret-string", initial)
    arn = created["ARN"]
    arn_re = rf"arn:aws:secretsmanager:us-east-1:000000000000:secret:{re.escape(name)}-[A-Za-z0-9]{{6}}"
    assert re.fullmatch(arn_re, arn), arn
    assert created["Name"] == name
    v1 = created["VersionId"]
    assert secret_string(aws, name) == initial

    # put-secret-value twice: AWSCURRENT/AWSPREVIOUS move, version 1 becomes deprecated.
    value2 = json.dumps({"username": "ops", "password": "second-pass"})
    put2 = aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", value2)
    v2 = put2["VersionId"]
    assert put2["VersionStages"] == ["AWSCURRENT"]
    assert version_stages(aws, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    value3 = json.dumps({"username": "ops", "password": "third-pass"})
    v3 = aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", value3)["VersionId"]
    assert version_stages(aws, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert version_stages(aws, name, "--include-deprecated") == {v1: [], v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert secret_string(aws, name) == value3
    assert secret_string(aws, name, "--version-stage", "AWSPREVIOUS") == value2

    # update-secret-version-stage: attach a custom label, then move it to another version.
    move = ("secretsmanager", "update-secret-version-stage", "--secret-id", name, "--version-stage", "BLUE")
    aws(*move, "--move-to-version-id", v1)
    assert version_stages(aws, name) == {v1: ["BLUE"], v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    aws(*move, "--move-to-version-id", v2, "--remove-from-version-id", v1)
    assert version_stages(aws, name) == {v2: ["AWSPREVIOUS", "BLUE"], v3: ["AWSCURRENT"]}
    assert secret_string(aws, name, "--version-stage", "BLUE") == value2

    # rotate-secret with the random-password strategy and a 30-day schedule.
    before_rotation = time.time()
    rotated = aws(
        "secretsmanager",
        "rotate-secret",
        "--secret-id",
        name,
        "--rotation-lambda-arn",
        RANDOM_PASSWORD_STRATEGY,
        "--rotation-rules",
        "AutomaticallyAfterDays=30",
    )
    v4 = rotated["VersionId"]
    assert v4 not in (v1, v2, v3)
    desc = wait_for_rotation(aws, name)
    assert {k: sorted(v) for k, v in desc["VersionIdsToStages"].items()} == {
        v2: ["BLUE"],
        v3: ["AWSPREVIOUS"],
        v4: ["AWSCURRENT"],
    }
    assert desc["RotationEnabled"] is True
    assert desc["RotationLambdaARN"] == RANDOM_PASSWORD_STRATEGY
    assert desc["RotationRules"]["AutomaticallyAfterDays"] == 30
    # The CLI prints timestamps as epoch seconds in JSON output.
    assert before_rotation - 5 <= desc["LastRotatedDate"] <= time.time() + 5
    assert 29 * DAY_S <= desc["NextRotationDate"] - desc["LastRotatedDate"] <= 30 * DAY_S
    rotated_value = secret_string(aws, name)
    doc = json.loads(rotated_value)
    assert doc["username"] == "ops"
    assert doc["password"] not in ("initial-pass", "second-pass", "third-pass")
    assert len(doc["password"]) == 32
    assert secret_string(aws, name, "--version-stage", "AWSPREVIOUS") == value3

    # delete-secret with a 7-day recovery window: reads fail with InvalidRequestException.
    deleted = aws("secretsmanager", "delete-secret", "--secret-id", name, "--recovery-window-in-days", "7")
    assert deleted["ARN"] == arn
    assert abs(deleted["DeletionDate"] - (time.time() + 7 * DAY_S)) < 60
    with pytest.raises(CalledProcessError) as e:
        secret_string(aws, name)
    assert e.value.returncode != 0
    assert "InvalidRequestException" in e.value.stderr
    assert "DeletedDate" in aws("secretsmanager", "describe-secret", "--secret-id", name)

    # restore-secret: readable again.
    assert aws("secretsmanager", "restore-secret", "--secret-id", name)["ARN"] == arn
    assert "DeletedDate" not in aws("secretsmanager", "describe-secret", "--secret-id", name)
    assert secret_string(aws, name) == rotated_value

    # delete-secret --force-delete-without-recovery: gone at once.
    aws("secretsmanager", "delete-secret", "--secret-id", name, "--force-delete-without-recovery")
    with pytest.raises(CalledProcessError) as e:
        aws("secretsmanager", "describe-secret", "--secret-id", name)
    assert e.value.returncode != 0
    assert "ResourceNotFoundException" in e.value.stderr


def test_cli_get_random_password_returns_requested_alphanumerics(aws):
    password = aws(
        "secretsmanager",
        "get-random-password",
        "--password-length",
        "20",
        "--exclude-punctuation",
        "--query",
        "RandomPassword",
        output="text",
    ).rstrip("\n")
    assert len(password) == 20
    assert set(password) <= set(string.ascii_letters + string.digits), password


def test_cli_get_secret_value_of_missing_secret_fails_with_resource_not_found(aws):
    with pytest.raises(CalledProcessError) as e:
        aws("secretsmanager", "get-secret-value", "--secret-id", unique_name("missing"))
    assert e.value.returncode != 0
    assert "ResourceNotFoundException" in e.value.stderr
    assert "can't find the specified secret" in e.value.stderr
