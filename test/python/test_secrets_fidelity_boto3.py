# boto3: Secrets Manager answers as AWS does (filters, omitted fields, LastAccessedDate, IncludeSpace, exact error texts).
import time
import uuid
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError
from conftest import make_secrets_client


@pytest.fixture(scope="module")
def sm(server):
    return make_secrets_client(server)


def refusal(excinfo: pytest.ExceptionInfo) -> tuple[str, int, str]:
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def names(sm, filters) -> list[str]:
    return sorted(s["Name"] for s in sm.list_secrets(Filters=filters, MaxResults=100)["SecretList"])


@pytest.fixture(scope="module")
def run(sm):
    prefix = f"pyfid-{uuid.uuid4().hex[:8]}"
    sm.create_secret(
        Name=f"{prefix}/BillingDbPassword",
        SecretString="a",
        Description="Primary database for the billing-service",
        Tags=[{"Key": "Team", "Value": "Payments"}],
    )
    sm.create_secret(Name=f"{prefix}/cache/redisToken", SecretString="b", Description="cache token")
    return prefix


def test_filters_match_per_key_as_aws_documents(sm, run):
    by_run = {"Key": "name", "Values": [f"{run}/"]}
    assert names(sm, [by_run, {"Key": "description", "Values": ["BILLING serv"]}]) == [f"{run}/BillingDbPassword"]
    assert names(sm, [by_run, {"Key": "all", "Values": ["redis"]}]) == [f"{run}/cache/redisToken"]
    assert names(sm, [{"Key": "name", "Values": [f"{run}/billing"]}]) == []  # name is case-sensitive
    assert names(sm, [by_run, {"Key": "tag-key", "Values": ["!Team"]}]) == [f"{run}/cache/redisToken"]
    assert len(names(sm, [by_run, {"Key": "primary-region", "Values": ["us-"]}])) == 2
    assert names(sm, [by_run, {"Key": "description", "Values": ["cache"]}, {"Key": "description", "Values": ["billing"]}]) == []


def test_a_filter_without_key_or_values_is_invalid_parameter(sm):
    with pytest.raises(ClientError) as e:
        sm.list_secrets(Filters=[{"Values": ["x"]}])
    assert refusal(e) == ("InvalidParameterException", 400, "Invalid filter key")
    with pytest.raises(ClientError) as e:
        sm.list_secrets(Filters=[{"Key": "description"}])
    assert refusal(e) == ("InvalidParameterException", 400, "Invalid filter values for key: description")


def test_batch_get_secret_value_argument_combinations(sm):
    either = "Either 'SecretIdList' or 'Filters' must be provided, but not both."
    max_needs_filters = "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided."
    for kwargs, message in [
        ({"SecretIdList": ["a"], "Filters": [{"Key": "name", "Values": ["a"]}]}, either),
        ({}, either),
        ({"SecretIdList": ["a"], "MaxResults": 3}, max_needs_filters),
    ]:
        with pytest.raises(ClientError) as e:
            sm.batch_get_secret_value(**kwargs)
        assert refusal(e) == ("InvalidParameterException", 400, message)


def test_describe_leaves_out_tags_and_stages_until_they_exist_and_reports_last_accessed(sm):
    name = f"pyfid-omit-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name)
    bare = sm.describe_secret(SecretId=name)
    assert "Tags" not in bare and "VersionIdsToStages" not in bare and "LastAccessedDate" not in bare
    sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}])
    sm.untag_resource(SecretId=name, TagKeys=["k"])
    assert sm.describe_secret(SecretId=name)["Tags"] == []

    sm.put_secret_value(SecretId=name, SecretString="v")
    sm.get_secret_value(SecretId=name)
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    deadline = time.monotonic() + 5
    while "LastAccessedDate" not in (desc := sm.describe_secret(SecretId=name)):
        assert time.monotonic() < deadline, desc
        time.sleep(0.05)
    assert desc["LastAccessedDate"] == today
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert listed[0]["LastAccessedDate"] == today


def test_include_space_allows_without_requiring_a_space(sm):
    for _ in range(10):
        assert " " not in sm.get_random_password(IncludeSpace=True, PasswordLength=4)["RandomPassword"]
    assert " " in sm.get_random_password(IncludeSpace=True, PasswordLength=4096)["RandomPassword"]


def test_deletion_window_and_token_reuse_texts(sm):
    name = f"pyfid-texts-{uuid.uuid4().hex[:8]}"
    token = str(uuid.uuid4())
    arn = sm.create_secret(Name=name, SecretString="one", ClientRequestToken=token)["ARN"]
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=31)
    assert refusal(e) == (
        "InvalidParameterException",
        400,
        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
    )
    with pytest.raises(ClientError) as e:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert refusal(e) == (
        "InvalidParameterException",
        400,
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    )
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="two", ClientRequestToken=token)
    assert refusal(e) == (
        "ResourceExistsException",
        400,
        f"You can't use ClientRequestToken {token} because that value is already in use for a version of secret {arn}.",
    )
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId=name, SecretString="two", ClientRequestToken=token)
    assert refusal(e) == (
        "ResourceExistsException",
        400,
        "You can't modify an existing version, you can only create a new version.",
    )
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "one"
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
