# The aws CLI in two regions (--region): a multi-Region key replicated and used across regions, a replicated secret.
import base64
import uuid

from test_replication_boto3 import EU, US, eventually, key_arn


def test_cli_multi_region_key_decrypts_in_the_other_region(aws, tmp_path):
    made = aws("kms", "create-key", "--multi-region", "--description", "cli mrk")["KeyMetadata"]
    key_id = made["KeyId"]
    assert made["MultiRegion"] is True and made["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    replica = aws("kms", "replicate-key", "--key-id", key_id, "--replica-region", EU)["ReplicaKeyMetadata"]
    assert replica["Arn"] == key_arn(EU, key_id)
    described = aws("kms", "describe-key", "--key-id", key_id, "--region", EU)["KeyMetadata"]
    assert described["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert described["MultiRegionConfiguration"]["PrimaryKey"] == {"Arn": key_arn(US, key_id), "Region": US}

    # Encrypted in us-east-1 (the CLI's default region here), decrypted in eu-west-1, and back.
    blob = aws(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", "cli across regions",
        "--query", "CiphertextBlob", output="text",
    ).strip()
    (tmp_path / "from-us.bin").write_bytes(base64.b64decode(blob))
    out = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'from-us.bin'}", "--region", EU)
    assert base64.b64decode(out["Plaintext"]) == b"cli across regions"
    assert out["KeyId"] == key_arn(EU, key_id)

    blob = aws(
        "kms", "encrypt", "--key-id", key_id, "--plaintext", "and back", "--region", EU,
        "--query", "CiphertextBlob", output="text",
    ).strip()
    (tmp_path / "from-eu.bin").write_bytes(base64.b64decode(blob))
    out = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'from-eu.bin'}")
    assert (base64.b64decode(out["Plaintext"]), out["KeyId"]) == (b"and back", key_arn(US, key_id))


def test_cli_replicated_secret_read_in_the_replica_region(aws):
    name = f"pytest-replication-cli/{uuid.uuid4().hex[:12]}"
    made = aws(
        "secretsmanager", "create-secret", "--name", name, "--secret-string", "cli v1",
        "--add-replica-regions", f"Region={EU}",
    )
    assert [(s["Region"], s["Status"]) for s in made["ReplicationStatus"]] == [(EU, "InSync")]
    read = aws("secretsmanager", "get-secret-value", "--secret-id", name, "--region", EU)
    assert read["SecretString"] == "cli v1"
    assert read["ARN"] == made["ARN"].replace(f":{US}:", f":{EU}:")

    put = aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", "cli v2")
    eventually(
        lambda: aws("secretsmanager", "get-secret-value", "--secret-id", name, "--region", EU)["VersionId"],
        put["VersionId"],
        "replica AWSCURRENT",
    )

    primary = aws("secretsmanager", "describe-secret", "--secret-id", name)
    assert primary["PrimaryRegion"] == US
    status = primary["ReplicationStatus"]
    assert [(s["Region"], s["Status"], s["KmsKeyId"]) for s in status] == [
        (EU, "InSync", "alias/keysafe/secretsmanager")
    ]
    assert aws("secretsmanager", "describe-secret", "--secret-id", name, "--region", EU)["PrimaryRegion"] == US
