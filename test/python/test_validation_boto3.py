# boto3 receives AWS's ValidationException sentences from the server unchanged (issue 16).
# botocore checks only required members, types and minimums on the client; these cases pass it.
import pytest
from botocore.exceptions import ClientError


def validation_message(excinfo: pytest.ExceptionInfo) -> str:
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Message"]


def test_number_of_bytes_over_1024(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.generate_random(NumberOfBytes=1025)
    assert validation_message(excinfo) == (
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value less than or equal to 1024"
    )


def test_key_id_longer_than_2048(kms):
    long = "k" * 2049
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId=long)
    assert validation_message(excinfo) == (
        f"1 validation error detected: Value '{long}' at 'keyId' failed to satisfy constraint: "
        "Member must have length less than or equal to 2048"
    )


def test_alias_name_against_the_model_pattern(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.delete_alias(AliasName="alias/has space")
    assert validation_message(excinfo) == (
        "1 validation error detected: Value 'alias/has space' at 'aliasName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_two_failures_counted_and_the_plaintext_never_shown(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId="k" * 2049, Plaintext=b"P" * 4097)
    message = validation_message(excinfo)
    assert message == (
        f"2 validation errors detected: Value '{'k' * 2049}' at 'keyId' failed to satisfy constraint: "
        "Member must have length less than or equal to 2048; "
        "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
    )
    assert "PPPP" not in message


def test_rotation_rules_nested_path_and_pattern(secretsmanager):
    with pytest.raises(ClientError) as excinfo:
        secretsmanager.rotate_secret(SecretId="app/db", RotationRules={"Duration": "9x"})
    assert validation_message(excinfo) == (
        "1 validation error detected: Value '9x' at 'rotationRules.duration' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [0-9]+h"
    )
