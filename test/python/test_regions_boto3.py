# boto3 in two regions against one Keysafe server: keys, aliases and secrets live per region, ARNs carry it.
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"


def clients(server, region: str):
    session = boto3.session.Session(
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        region_name=region,
    )
    config = Config(retries={"max_attempts": 1})
    return (
        session.client("kms", endpoint_url=server.endpoint, config=config),
        session.client("secretsmanager", endpoint_url=server.endpoint, config=config),
    )


def test_keys_aliases_and_secrets_are_per_region(server):
    us_kms, us_sm = clients(server, "us-east-1")
    eu_kms, eu_sm = clients(server, "eu-west-1")

    key = eu_kms.create_key(Description="boto3 eu key")["KeyMetadata"]
    assert key["Arn"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key['KeyId']}"
    eu_kms.create_alias(AliasName="alias/boto3-regions", TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as missing:
        us_kms.describe_key(KeyId="alias/boto3-regions")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    assert missing.value.response["Error"]["Message"] == (
        f"Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/boto3-regions is not found."
    )
    with pytest.raises(ClientError) as elsewhere:
        us_kms.describe_key(KeyId=key["Arn"])
    assert elsewhere.value.response["Error"]["Message"] == "Invalid arn eu-west-1"
    assert key["KeyId"] not in [k["KeyId"] for k in us_kms.list_keys()["Keys"]]

    blob = eu_kms.encrypt(KeyId="alias/boto3-regions", Plaintext=b"eu only")["CiphertextBlob"]
    assert eu_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"eu only"
    with pytest.raises(ClientError) as other:
        us_kms.decrypt(CiphertextBlob=blob)
    assert other.value.response["Error"]["Code"] == "InvalidCiphertextException"

    us_arn = us_sm.create_secret(Name="boto3/regions", SecretString="us")["ARN"]
    eu_arn = eu_sm.create_secret(Name="boto3/regions", SecretString="eu")["ARN"]
    assert us_arn.startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:boto3/regions-")
    assert eu_arn.startswith(f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:boto3/regions-")
    assert us_sm.get_secret_value(SecretId="boto3/regions")["SecretString"] == "us"
    assert eu_sm.get_secret_value(SecretId="boto3/regions")["SecretString"] == "eu"
    with pytest.raises(ClientError) as not_here:
        eu_sm.get_secret_value(SecretId=us_arn)
    assert not_here.value.response["Error"]["Code"] == "ResourceNotFoundException"
    eu_arns = [s["ARN"] for s in eu_sm.list_secrets()["SecretList"]]
    assert eu_arn in eu_arns and us_arn not in eu_arns
