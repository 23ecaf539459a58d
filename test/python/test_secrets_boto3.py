# boto3 against a running Keysafe server: the AWS Secrets Manager wire protocol as Python's SDK speaks it.
import json
import re
import string
import time
import uuid
from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from conftest import make_secrets_client

REGION = "us-east-1"
ACCOUNT = "000000000000"
RANDOM_PASSWORD_STRATEGY = "keysafe:rotation:random-password"
ROTATION_TIMEOUT_S = 10
ALPHANUMERIC = set(string.ascii_letters + string.digits)


def secret_arn_re(name: str) -> re.Pattern:
    return re.compile(rf"^arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{re.escape(name)}-[A-Za-z0-9]{{6}}$")


def unique_name(prefix: str) -> str:
    return f"pytest/{prefix}-{uuid.uuid4().hex[:12]}"


def client_error(excinfo: pytest.ExceptionInfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def version_stages(sm, secret_id: str, include_deprecated: bool = False) -> dict[str, list[str]]:
    """VersionId -> labels, from ListSecretVersionIds (following NextToken)."""
    out: dict[str, list[str]] = {}
    kwargs = {"SecretId": secret_id, "IncludeDeprecated": include_deprecated}
    while True:
        page = sm.list_secret_version_ids(**kwargs)
        for v in page["Versions"]:
            assert v["VersionId"] not in out, f"version {v['VersionId']} listed twice"
            out[v["VersionId"]] = sorted(v.get("VersionStages", []))
        if "NextToken" not in page:
            return out
        kwargs["NextToken"] = page["NextToken"]


def wait_for_rotation(sm, secret_id: str) -> dict:
    """Polls DescribeSecret until no version carries AWSPENDING; returns the last description."""
    deadline = time.monotonic() + ROTATION_TIMEOUT_S
    while True:
        desc = sm.describe_secret(SecretId=secret_id)
        if not any("AWSPENDING" in s for s in desc.get("VersionIdsToStages", {}).values()):
            return desc
        if time.monotonic() > deadline:
            pytest.fail(f"rotation did not finish within {ROTATION_TIMEOUT_S}s: {desc}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def sm(server):
    return make_secrets_client(server)


def test_secret_lifecycle_end_to_end(sm):
    name = unique_name("lifecycle")
    tag_key = f"team-{uuid.uuid4().hex[:12]}"
    initial = {"username": "app", "password": "initial-pass"}

    # CreateSecret with a JSON string: version 1 is AWSCURRENT.
    created = sm.create_secret(Name=name, SecretString=json.dumps(initial), Description="pytest lifecycle")
    arn = created["ARN"]
    assert secret_arn_re(name).match(arn), arn
    assert created["Name"] == name
    v1 = created["VersionId"]
    assert str(uuid.UUID(v1)) == v1  # boto3 fills ClientRequestToken with a UUID

    got = sm.get_secret_value(SecretId=name)
    assert json.loads(got["SecretString"]) == initial
    assert got["ARN"] == arn
    assert got["Name"] == name
    assert got["VersionId"] == v1
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert "SecretBinary" not in got
    assert isinstance(got["CreatedDate"], datetime)
    assert sm.get_secret_value(SecretId=arn)["VersionId"] == v1  # the full ARN works as SecretId too

    # PutSecretValue twice: AWSCURRENT moves to the new version, AWSPREVIOUS to the old current one.
    value2 = json.dumps({"username": "app", "password": "second-pass"})
    put2 = sm.put_secret_value(SecretId=name, SecretString=value2)
    v2 = put2["VersionId"]
    assert put2["ARN"] == arn
    assert put2["VersionStages"] == ["AWSCURRENT"]
    assert version_stages(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}

    value3 = json.dumps({"username": "app", "password": "third-pass"})
    v3 = sm.put_secret_value(SecretId=name, SecretString=value3)["VersionId"]
    assert len({v1, v2, v3}) == 3
    # Version 1 lost its last label: it is deprecated, listed only with IncludeDeprecated.
    assert version_stages(sm, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert version_stages(sm, name, include_deprecated=True) == {
        v1: [],
        v2: ["AWSPREVIOUS"],
        v3: ["AWSCURRENT"],
    }
    listed = sm.list_secret_version_ids(SecretId=name)
    assert listed["ARN"] == arn and listed["Name"] == name
    assert sm.get_secret_value(SecretId=name)["SecretString"] == value3
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert (previous["VersionId"], previous["SecretString"]) == (v2, value2)
    assert json.loads(sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"]) == initial

    # UpdateSecretVersionStage: attach a custom label, then move it with RemoveFromVersionId.
    sm.update_secret_version_stage(SecretId=name, VersionStage="BLUE", MoveToVersionId=v1)
    assert version_stages(sm, name) == {v1: ["BLUE"], v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    with pytest.raises(ClientError) as e:  # RemoveFromVersionId names a version that doesn't hold the label
        sm.update_secret_version_stage(SecretId=name, VersionStage="BLUE", MoveToVersionId=v2, RemoveFromVersionId=v3)
    assert client_error(e) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as e:  # the label is held elsewhere and RemoveFromVersionId is missing
        sm.update_secret_version_stage(SecretId=name, VersionStage="BLUE", MoveToVersionId=v2)
    assert client_error(e)[1] == 400
    assert client_error(e)[0] in ("InvalidParameterException", "InvalidRequestException")
    moved = sm.update_secret_version_stage(
        SecretId=name, VersionStage="BLUE", MoveToVersionId=v2, RemoveFromVersionId=v1
    )
    assert (moved["ARN"], moved["Name"]) == (arn, name)
    assert version_stages(sm, name) == {v2: ["AWSPREVIOUS", "BLUE"], v3: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="BLUE")["SecretString"] == value2
    with pytest.raises(ClientError) as e:  # VersionId and VersionStage must agree
        sm.get_secret_value(SecretId=name, VersionId=v3, VersionStage="BLUE")
    assert client_error(e) == ("InvalidRequestException", 400)

    # RotateSecret with the random-password strategy: asynchronous, AWSPENDING until it finishes.
    before_rotation = time.time()
    rotated = sm.rotate_secret(
        SecretId=name,
        RotationLambdaARN=RANDOM_PASSWORD_STRATEGY,
        RotationRules={"AutomaticallyAfterDays": 30},
    )
    v4 = rotated["VersionId"]
    assert (rotated["ARN"], rotated["Name"]) == (arn, name)
    assert v4 not in (v1, v2, v3)
    desc = wait_for_rotation(sm, name)
    assert desc["VersionIdsToStages"] == {v2: ["BLUE"], v3: ["AWSPREVIOUS"], v4: ["AWSCURRENT"]}
    assert desc["RotationEnabled"] is True
    assert desc["RotationLambdaARN"] == RANDOM_PASSWORD_STRATEGY
    assert desc["RotationRules"]["AutomaticallyAfterDays"] == 30
    last_rotated = desc["LastRotatedDate"].timestamp()
    assert before_rotation - 5 <= last_rotated <= time.time() + 5
    # Day-based windows open at midnight UTC: the next date is within the 30th day after the rotation.
    gap = desc["NextRotationDate"].timestamp() - last_rotated
    assert timedelta(days=29).total_seconds() <= gap <= timedelta(days=30).total_seconds(), gap

    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == v4
    assert current["VersionStages"] == ["AWSCURRENT"]
    new_doc = json.loads(current["SecretString"])
    assert new_doc["username"] == "app"  # only the password field is replaced
    assert set(new_doc) == {"username", "password"}
    assert new_doc["password"] not in ("initial-pass", "second-pass", "third-pass")
    assert len(new_doc["password"]) == 32  # GetRandomPassword's default length
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert (previous["VersionId"], previous["SecretString"]) == (v3, value3)

    # BatchGetSecretValue: values for the found secrets, an error entry for the missing one.
    other = unique_name("batch-other")
    sm.create_secret(Name=other, SecretString="other-value")
    missing = unique_name("batch-missing")
    batch = sm.batch_get_secret_value(SecretIdList=[name, other, missing])
    values = {v["Name"]: v for v in batch["SecretValues"]}
    assert set(values) == {name, other}
    assert values[name]["SecretString"] == current["SecretString"]
    assert values[name]["VersionId"] == v4
    assert values[name]["VersionStages"] == ["AWSCURRENT"]
    assert values[other]["SecretString"] == "other-value"
    assert [(x["SecretId"], x["ErrorCode"]) for x in batch["Errors"]] == [(missing, "ResourceNotFoundException")]
    sm.delete_secret(SecretId=other, ForceDeleteWithoutRecovery=True)

    # TagResource, then ListSecrets with a tag-key filter finds exactly this secret.
    sm.tag_resource(SecretId=name, Tags=[{"Key": tag_key, "Value": "payments"}, {"Key": "env", "Value": "test"}])
    assert {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]} == {
        tag_key: "payments",
        "env": "test",
    }
    found = sm.list_secrets(Filters=[{"Key": "tag-key", "Values": [tag_key]}])["SecretList"]
    assert [s["ARN"] for s in found] == [arn]
    assert found[0]["Name"] == name
    assert found[0]["Description"] == "pytest lifecycle"
    assert found[0]["RotationEnabled"] is True
    assert {t["Key"]: t["Value"] for t in found[0]["Tags"]}[tag_key] == "payments"
    assert found[0]["SecretVersionsToStages"][v4] == ["AWSCURRENT"]
    assert sm.list_secrets(Filters=[{"Key": "tag-key", "Values": [f"no-such-{tag_key}"]}])["SecretList"] == []

    # DeleteSecret with a recovery window: data operations fail, the secret is hidden from ListSecrets.
    before_delete = time.time()
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert (deleted["ARN"], deleted["Name"]) == (arn, name)
    window = deleted["DeletionDate"].timestamp() - before_delete
    assert timedelta(days=7).total_seconds() - 5 <= window <= timedelta(days=7).total_seconds() + 5, window
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert client_error(e) == ("InvalidRequestException", 400)
    assert "marked for deletion" in e.value.response["Error"]["Message"]
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    assert sm.list_secrets(Filters=[{"Key": "tag-key", "Values": [tag_key]}])["SecretList"] == []
    planned = sm.list_secrets(Filters=[{"Key": "tag-key", "Values": [tag_key]}], IncludePlannedDeletion=True)
    assert [s["ARN"] for s in planned["SecretList"]] == [arn]
    with pytest.raises(ClientError) as e:  # the name stays taken while the deletion is scheduled
        sm.create_secret(Name=name, SecretString="again")
    assert client_error(e) == ("InvalidRequestException", 400)

    # RestoreSecret: the secret and its current value are back.
    restored = sm.restore_secret(SecretId=name)
    assert (restored["ARN"], restored["Name"]) == (arn, name)
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == current["SecretString"]

    # ForceDeleteWithoutRecovery: gone at once.
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as e:
        sm.describe_secret(SecretId=name)
    assert client_error(e) == ("ResourceNotFoundException", 400)
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert client_error(e) == ("ResourceNotFoundException", 400)


def test_secret_binary_round_trips_as_bytes(sm):
    name = unique_name("binary")
    payload = bytes(range(256)) + b"\x00\xff"
    created = sm.create_secret(Name=name, SecretBinary=payload)
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == payload
    assert isinstance(got["SecretBinary"], bytes)
    assert "SecretString" not in got
    assert got["VersionId"] == created["VersionId"]
    assert got["VersionStages"] == ["AWSCURRENT"]

    sm.put_secret_value(SecretId=name, SecretBinary=b"\x01second")
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == b"\x01second"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretBinary"] == payload
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_creating_a_secret_with_a_taken_name_raises_resource_exists(sm):
    name = unique_name("duplicate")
    sm.create_secret(Name=name, SecretString="first")
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="second")
    assert client_error(e) == ("ResourceExistsException", 400)
    assert name in e.value.response["Error"]["Message"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "first"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_get_random_password_honours_length_and_excluded_punctuation(sm):
    for _ in range(5):
        password = sm.get_random_password(PasswordLength=20, ExcludePunctuation=True)["RandomPassword"]
        assert len(password) == 20
        assert set(password) <= ALPHANUMERIC, password
        # RequireEachIncludedType defaults to on: lowercase, uppercase and a digit are all present.
        assert set(password) & set(string.ascii_lowercase), password
        assert set(password) & set(string.ascii_uppercase), password
        assert set(password) & set(string.digits), password


def test_missing_secret_is_reported_as_resource_not_found(sm):
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=unique_name("missing"))
    assert client_error(e) == ("ResourceNotFoundException", 400)
    assert e.value.response["Error"]["Message"] == "Secrets Manager can't find the specified secret."
