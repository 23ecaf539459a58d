# Grants through boto3 and the aws CLI: create, list with paging (boto3's paginator), Name idempotence,
# retire by token, revoke, and AWS's refusals.
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
APP = f"arn:aws:iam::{ACCOUNT}:role/app"
OPS = f"arn:aws:iam::{ACCOUNT}:role/ops"


@pytest.fixture
def key_arn(kms):
    return kms.create_key(Description="pytest grants")["KeyMetadata"]["Arn"]


def code_of(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_boto3_grants_page_retire_and_revoke(kms, key_arn):
    made = [
        kms.create_grant(KeyId=key_arn, GranteePrincipal=APP, RetiringPrincipal=OPS, Operations=["Decrypt"])
        for _ in range(5)
    ]
    pages = list(kms.get_paginator("list_grants").paginate(KeyId=key_arn, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    listed = [g for page in pages for g in page["Grants"]]
    assert sorted(g["GrantId"] for g in listed) == sorted(m["GrantId"] for m in made)
    assert all(g["KeyId"] == key_arn and g["Operations"] == ["Decrypt"] for g in listed)
    assert all(g["RetiringPrincipal"] == OPS and g["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT}:root" for g in listed)

    retirable = kms.list_retirable_grants(RetiringPrincipal=OPS, Limit=100)["Grants"]
    assert {m["GrantId"] for m in made} <= {g["GrantId"] for g in retirable}

    kms.retire_grant(GrantToken=made[0]["GrantToken"])
    kms.revoke_grant(KeyId=key_arn, GrantId=made[1]["GrantId"])
    left = {g["GrantId"] for g in kms.list_grants(KeyId=key_arn)["Grants"]}
    assert left == {m["GrantId"] for m in made[2:]}
    with pytest.raises(ClientError) as e:
        kms.revoke_grant(KeyId=key_arn, GrantId=made[1]["GrantId"])
    assert code_of(e) == "NotFoundException"


def test_boto3_name_idempotence_and_refusals(kms, key_arn):
    ask = {
        "KeyId": key_arn,
        "GranteePrincipal": APP,
        "Operations": ["Encrypt", "Decrypt"],
        "Constraints": {"EncryptionContextSubset": {"tenant": "a"}},
        "Name": "retry-safe",
    }
    first = kms.create_grant(**ask)
    assert kms.create_grant(**ask)["GrantId"] == first["GrantId"]
    with pytest.raises(ClientError) as e:
        kms.create_grant(KeyId=key_arn, GranteePrincipal=APP, Operations=["Sign"])
    assert code_of(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_arn, Plaintext=b"x", GrantTokens=["not-a-token"])
    assert code_of(e) == "InvalidGrantTokenException"
    # A token CreateGrant answered is accepted wherever GrantTokens is.
    kms.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext={"tenant": "a"}, GrantTokens=[first["GrantToken"]])


def test_cli_create_list_and_revoke_grant(aws, key_arn):
    created = aws(
        "kms", "create-grant", "--key-id", key_arn, "--grantee-principal", APP,
        "--operations", "Decrypt", "GenerateDataKey",
        "--constraints", "EncryptionContextEquals={tenant=a}",
    )
    listed = aws("kms", "list-grants", "--key-id", key_arn)["Grants"]
    assert [(g["GrantId"], g["Operations"], g["Constraints"]) for g in listed] == [
        (created["GrantId"], ["Decrypt", "GenerateDataKey"], {"EncryptionContextEquals": {"tenant": "a"}})
    ]
    aws("kms", "revoke-grant", "--key-id", key_arn, "--grant-id", created["GrantId"])
    assert aws("kms", "list-grants", "--key-id", key_arn)["Grants"] == []
