# The aws CLI (v1) against a running Keysafe server: what operators type in a shell.
import base64
import re
import uuid
from subprocess import CalledProcessError

import pytest

KEY_ARN_RE = re.compile(r"^arn:aws:kms:us-east-1:000000000000:key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def cli_key(aws):
    meta = aws("kms", "create-key", "--description", "created by the aws CLI")["KeyMetadata"]
    return meta


def test_cli_create_key_returns_enabled_symmetric_key(cli_key):
    assert cli_key["KeyState"] == "Enabled"
    assert cli_key["Enabled"] is True
    assert cli_key["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert cli_key["Description"] == "created by the aws CLI"
    assert KEY_ARN_RE.match(cli_key["Arn"]), cli_key["Arn"]
    assert cli_key["Arn"].endswith(f"/{cli_key['KeyId']}")


def test_cli_encrypt_then_decrypt_from_binary_file_returns_plaintext(aws, cli_key, tmp_path):
    # CLI v1: a blob given on the command line is raw text, which the CLI base64-encodes for the wire.
    text = aws(
        "kms",
        "encrypt",
        "--key-id",
        cli_key["KeyId"],
        "--plaintext",
        "hello",
        "--query",
        "CiphertextBlob",
        output="text",
    ).strip()
    ciphertext = base64.b64decode(text, validate=True)
    assert len(ciphertext) > len(b"hello")
    blob_file = tmp_path / "ciphertext.bin"
    blob_file.write_bytes(ciphertext)

    out = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}")
    assert out["Plaintext"] == base64.b64encode(b"hello").decode()
    assert out["KeyId"] == cli_key["Arn"]
    assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_cli_encrypt_with_context_requires_same_context_to_decrypt(aws, cli_key, tmp_path):
    text = aws(
        "kms",
        "encrypt",
        "--key-id",
        cli_key["KeyId"],
        "--plaintext",
        "scoped",
        "--encryption-context",
        "app=pytest,env=test",
        "--query",
        "CiphertextBlob",
        output="text",
    ).strip()
    blob_file = tmp_path / "scoped.bin"
    blob_file.write_bytes(base64.b64decode(text))

    out = aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}", "--encryption-context", "app=pytest,env=test"
    )
    assert base64.b64decode(out["Plaintext"]) == b"scoped"
    with pytest.raises(CalledProcessError) as e:
        aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}")
    assert e.value.returncode != 0
    assert "InvalidCiphertextException" in e.value.stderr


def test_cli_generate_data_key_returns_32_byte_key_and_its_ciphertext(aws, cli_key, tmp_path):
    out = aws("kms", "generate-data-key", "--key-id", cli_key["KeyId"], "--key-spec", "AES_256")
    plaintext = base64.b64decode(out["Plaintext"], validate=True)
    assert len(plaintext) == 32
    assert out["KeyId"] == cli_key["Arn"]

    blob_file = tmp_path / "data-key.bin"
    blob_file.write_bytes(base64.b64decode(out["CiphertextBlob"], validate=True))
    dec = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}")
    assert base64.b64decode(dec["Plaintext"]) == plaintext


def test_cli_rotate_key_on_demand_is_listed_and_old_ciphertext_still_decrypts(aws, tmp_path):
    key_id = aws("kms", "create-key")["KeyMetadata"]["KeyId"]
    old = tmp_path / "old.bin"
    old.write_bytes(
        base64.b64decode(
            aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "old", "--query", "CiphertextBlob", output="text")
        )
    )

    out = aws("kms", "rotate-key-on-demand", "--key-id", key_id)
    assert out["KeyId"].endswith(key_id)

    rotations = aws("kms", "list-key-rotations", "--key-id", key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    dec = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{old}")
    assert base64.b64decode(dec["Plaintext"]) == b"old"


def test_cli_list_keys_includes_created_key(aws, cli_key):
    out = aws("kms", "list-keys")
    keys = {k["KeyId"]: k["KeyArn"] for k in out["Keys"]}
    assert keys.get(cli_key["KeyId"]) == cli_key["Arn"]
    assert all(KEY_ARN_RE.match(arn) for arn in keys.values())


def test_cli_alias_resolves_in_describe_key(aws, cli_key):
    alias = f"alias/cli-{uuid.uuid4().hex[:12]}"
    assert aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", cli_key["KeyId"]) is None
    meta = aws("kms", "describe-key", "--key-id", alias)["KeyMetadata"]
    assert meta["KeyId"] == cli_key["KeyId"]


def test_cli_describe_unknown_alias_fails_with_not_found(aws):
    with pytest.raises(CalledProcessError) as e:
        aws("kms", "describe-key", "--key-id", "alias/does-not-exist")
    assert e.value.returncode != 0
    assert "NotFoundException" in e.value.stderr
    assert e.value.stdout.strip() == ""
