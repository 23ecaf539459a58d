# BYOK with the aws CLI and openssl, step by step as AWS's "Importing key material" guide shows users doing it.
import base64
import shutil
import subprocess
from subprocess import CalledProcessError

import pytest

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def parameters(aws, key_id, tmp_path, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048"):
    """get-parameters-for-import, then the public key and token base64-decoded to files, as the guide does."""
    params = aws(
        "kms", "get-parameters-for-import", "--key-id", key_id,
        "--wrapping-algorithm", algorithm, "--wrapping-key-spec", spec,
    )
    (tmp_path / "WrappingPublicKey.bin").write_bytes(base64.b64decode(params["PublicKey"]))
    (tmp_path / "ImportToken.bin").write_bytes(base64.b64decode(params["ImportToken"]))
    return params


def wrap_oaep(tmp_path, md="sha256") -> None:
    openssl(
        "pkeyutl", "-encrypt", "-in", "PlaintextKeyMaterial.bin", "-out", "EncryptedKeyMaterial.bin",
        "-inkey", "WrappingPublicKey.bin", "-keyform", "DER", "-pubin",
        "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}", "-pkeyopt", f"rsa_mgf1_md:{md}",
        cwd=tmp_path,
    )


def import_material(aws, key_id, tmp_path):
    return aws(
        "kms", "import-key-material", "--key-id", key_id,
        "--encrypted-key-material", f"fileb://{tmp_path / 'EncryptedKeyMaterial.bin'}",
        "--import-token", f"fileb://{tmp_path / 'ImportToken.bin'}",
        "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE",
    )


def round_trip(aws, key_id, tmp_path, text="byok"):
    blob = base64.b64decode(
        aws("kms", "encrypt", "--key-id", key_id, "--plaintext", text, "--query", "CiphertextBlob", output="text").strip()
    )
    (tmp_path / "ciphertext.bin").write_bytes(blob)
    out = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ciphertext.bin'}")
    assert base64.b64decode(out["Plaintext"]) == text.encode()
    return blob


def test_byok_rsaes_oaep_sha_256_import_use_delete_and_reimport(aws, tmp_path):
    meta = aws("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]
    key_id = meta["KeyId"]
    assert (meta["Origin"], meta["KeyState"], meta["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    with pytest.raises(CalledProcessError, match="KMSInvalidStateException.*is pending import"):
        aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "x")

    params = parameters(aws, key_id, tmp_path)
    assert params["KeyId"] == meta["Arn"]
    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32", cwd=tmp_path)
    wrap_oaep(tmp_path)
    out = import_material(aws, key_id, tmp_path)
    assert out["KeyId"] == meta["Arn"] and len(out["KeyMaterialId"]) == 64

    described = aws("kms", "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert (described["KeyState"], described["Origin"]) == ("Enabled", "EXTERNAL")
    assert described["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE" and "ValidTo" not in described
    blob = round_trip(aws, key_id, tmp_path)

    aws("kms", "delete-imported-key-material", "--key-id", key_id)
    assert aws("kms", "describe-key", "--key-id", key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(CalledProcessError, match="KMSInvalidStateException"):
        aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ciphertext.bin'}")

    # Different material is refused; the same material (a new token, wrapped again) brings the key back.
    kept = (tmp_path / "PlaintextKeyMaterial.bin").read_bytes()
    parameters(aws, key_id, tmp_path, algorithm="RSAES_OAEP_SHA_1")
    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32", cwd=tmp_path)
    wrap_oaep(tmp_path, "sha1")
    with pytest.raises(CalledProcessError, match="IncorrectKeyMaterialException"):
        import_material(aws, key_id, tmp_path)
    (tmp_path / "PlaintextKeyMaterial.bin").write_bytes(kept)
    wrap_oaep(tmp_path, "sha1")
    import_material(aws, key_id, tmp_path)
    out = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ciphertext.bin'}")
    assert base64.b64decode(out["Plaintext"]) == b"byok"
    assert blob == (tmp_path / "ciphertext.bin").read_bytes()


def test_byok_rsa_aes_key_wrap_sha_256_with_openssl(aws, tmp_path):
    key_id = aws("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    parameters(aws, key_id, tmp_path, algorithm="RSA_AES_KEY_WRAP_SHA_256", spec="RSA_3072")
    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32", cwd=tmp_path)
    openssl("rand", "-out", "aes-key.bin", "32", cwd=tmp_path)
    aes_hex = (tmp_path / "aes-key.bin").read_bytes().hex()
    openssl(
        "enc", "-id-aes256-wrap-pad", "-K", aes_hex, "-iv", "A65959A6",
        "-in", "PlaintextKeyMaterial.bin", "-out", "key-material-wrapped.bin", cwd=tmp_path,
    )
    openssl(
        "pkeyutl", "-encrypt", "-in", "aes-key.bin", "-out", "aes-key-wrapped.bin",
        "-inkey", "WrappingPublicKey.bin", "-keyform", "DER", "-pubin",
        "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256",
        cwd=tmp_path,
    )
    (tmp_path / "EncryptedKeyMaterial.bin").write_bytes(
        (tmp_path / "aes-key-wrapped.bin").read_bytes() + (tmp_path / "key-material-wrapped.bin").read_bytes()
    )
    import_material(aws, key_id, tmp_path)
    round_trip(aws, key_id, tmp_path, "wrapped with AES key wrap")


def test_byok_refusals(aws, tmp_path):
    key_id = aws("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    other = aws("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    parameters(aws, key_id, tmp_path)
    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32", cwd=tmp_path)
    wrap_oaep(tmp_path)
    with pytest.raises(CalledProcessError, match="InvalidImportTokenException"):
        import_material(aws, other, tmp_path)
    with pytest.raises(CalledProcessError, match="A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"):
        aws(
            "kms", "import-key-material", "--key-id", key_id,
            "--encrypted-key-material", f"fileb://{tmp_path / 'EncryptedKeyMaterial.bin'}",
            "--import-token", f"fileb://{tmp_path / 'ImportToken.bin'}",
        )
    with pytest.raises(CalledProcessError, match="UnsupportedOperationException"):
        aws("kms", "enable-key-rotation", "--key-id", key_id)
    generated = aws("kms", "create-key")["KeyMetadata"]["KeyId"]
    with pytest.raises(CalledProcessError, match="UnsupportedOperationException.*origin is AWS_KMS"):
        parameters(aws, generated, tmp_path)
