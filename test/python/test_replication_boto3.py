# boto3 in two regions against one Keysafe server: a multi-Region KMS key and a replicated secret, as AWS users drive them.
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from test_regions_boto3 import ACCOUNT, clients

US = "us-east-1"
EU = "eu-west-1"
# A replica follows its primary's commit asynchronously (milliseconds here); the bound only guards a hang.
FOLLOW_TIMEOUT_S = 10
REPLICA_WRITE_REFUSED = "Operation not permitted on a replica secret. Call must be made in primary secret's region."


def key_arn(region: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"


def eventually(read, expected, what: str):
    """Polls `read()` until it returns `expected`; fails naming `what` and the last value seen."""
    deadline = time.monotonic() + FOLLOW_TIMEOUT_S
    while True:
        seen = read()
        if seen == expected:
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still {seen!r} after {FOLLOW_TIMEOUT_S}s, expected {expected!r}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def regions(server):
    """(kms, secretsmanager) clients for us-east-1 and eu-west-1, one server for the module."""
    return {US: clients(server, US), EU: clients(server, EU)}


def test_multi_region_key_replicated_decrypts_across_regions(regions):
    us_kms, eu_kms = regions[US][0], regions[EU][0]
    made = us_kms.create_key(MultiRegion=True, Description="boto3 mrk")["KeyMetadata"]
    key_id = made["KeyId"]
    assert key_id.startswith("mrk-") and made["MultiRegion"] is True
    assert made["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": key_arn(US, key_id), "Region": US},
        "ReplicaKeys": [],
    }

    replica = us_kms.replicate_key(KeyId=key_id, ReplicaRegion=EU, Description="boto3 replica")
    assert replica["ReplicaKeyMetadata"]["Arn"] == key_arn(EU, key_id)
    assert replica["ReplicaKeyMetadata"]["KeyState"] == "Enabled"

    primary_key = {"Arn": key_arn(US, key_id), "Region": US}
    replica_keys = [{"Arn": key_arn(EU, key_id), "Region": EU}]
    in_us = us_kms.describe_key(KeyId=key_id)["KeyMetadata"]
    in_eu = eu_kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert in_us["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": primary_key,
        "ReplicaKeys": replica_keys,
    }
    assert in_eu["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "REPLICA",
        "PrimaryKey": primary_key,
        "ReplicaKeys": replica_keys,
    }
    assert (in_eu["Arn"], in_eu["Description"]) == (key_arn(EU, key_id), "boto3 replica")

    # Encrypt in one region, decrypt in the other, both ways; Decrypt names the key of the region it ran in.
    from_us = us_kms.encrypt(KeyId=key_id, Plaintext=b"made in us")["CiphertextBlob"]
    from_eu = eu_kms.encrypt(KeyId=key_arn(EU, key_id), Plaintext=b"made in eu")["CiphertextBlob"]
    out = eu_kms.decrypt(CiphertextBlob=from_us)
    assert (out["Plaintext"], out["KeyId"]) == (b"made in us", key_arn(EU, key_id))
    out = us_kms.decrypt(CiphertextBlob=from_eu, KeyId=key_id)
    assert (out["Plaintext"], out["KeyId"]) == (b"made in eu", key_arn(US, key_id))

    # A single-Region key's ciphertext does not: the replica is the same key, another key is not.
    single = us_kms.create_key()["KeyMetadata"]["KeyId"]
    blob = us_kms.encrypt(KeyId=single, Plaintext=b"us only")["CiphertextBlob"]
    with pytest.raises(ClientError) as refused:
        eu_kms.decrypt(CiphertextBlob=blob)
    assert refused.value.response["Error"]["Code"] == "InvalidCiphertextException"


def test_replicated_secret_follows_primary_and_refuses_writes(regions):
    us_sm, eu_sm = regions[US][1], regions[EU][1]
    name = f"pytest-replication/{uuid.uuid4().hex[:12]}"
    made = us_sm.create_secret(Name=name, SecretString="v1", AddReplicaRegions=[{"Region": EU}])
    assert made["ARN"].startswith(f"arn:aws:secretsmanager:{US}:{ACCOUNT}:secret:{name}-")
    assert [(s["Region"], s["Status"]) for s in made["ReplicationStatus"]] == [(EU, "InSync")]
    replica_arn = made["ARN"].replace(f":{US}:", f":{EU}:")
    read = eu_sm.get_secret_value(SecretId=name)
    assert (read["ARN"], read["SecretString"], read["VersionId"]) == (replica_arn, "v1", made["VersionId"])

    put = us_sm.put_secret_value(SecretId=made["ARN"], SecretString="v2")
    eventually(lambda: eu_sm.get_secret_value(SecretId=name)["VersionId"], put["VersionId"], "replica AWSCURRENT")
    assert eu_sm.get_secret_value(SecretId=replica_arn)["SecretString"] == "v2"
    assert eu_sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    described = eu_sm.describe_secret(SecretId=name)
    assert (described["ARN"], described["PrimaryRegion"]) == (replica_arn, US)
    assert "ReplicationStatus" not in described
    primary = us_sm.describe_secret(SecretId=made["ARN"])
    assert primary["PrimaryRegion"] == US
    assert [(s["Region"], s["Status"]) for s in primary["ReplicationStatus"]] == [(EU, "InSync")]

    # Writes in the replica's region are refused with AWS's code and message; the value stays.
    with pytest.raises(ClientError) as refused:
        eu_sm.put_secret_value(SecretId=name, SecretString="written in eu")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert refused.value.response["Error"]["Message"] == REPLICA_WRITE_REFUSED
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert eu_sm.get_secret_value(SecretId=name)["SecretString"] == "v2"

    removed = us_sm.remove_regions_from_replication(SecretId=made["ARN"], RemoveReplicaRegions=[EU])
    assert removed["ARN"] == made["ARN"]
    assert removed.get("ReplicationStatus", []) == []
    with pytest.raises(ClientError) as gone:
        eu_sm.get_secret_value(SecretId=name)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "ReplicationStatus" not in us_sm.describe_secret(SecretId=made["ARN"])
    assert us_sm.get_secret_value(SecretId=made["ARN"])["SecretString"] == "v2"
