# boto3 against a running Keysafe server: the AWS KMS wire protocol as Python's SDK speaks it.
import base64
import re
import uuid

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"

ARN_RE = re.compile(
    rf"^arn:aws:kms:{REGION}:{ACCOUNT}:key/([0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}})$"
)


def error_code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def http_status(excinfo: pytest.ExceptionInfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def key_id(kms):
    return kms.create_key(Description="pytest symmetric key")["KeyMetadata"]["KeyId"]


def test_create_key_returns_enabled_symmetric_key_with_aws_arn(kms):
    created = kms.create_key(Description="created by boto3")["KeyMetadata"]
    meta = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]

    assert meta["KeyId"] == created["KeyId"]
    assert meta["Enabled"] is True
    assert meta["KeyState"] == "Enabled"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["Description"] == "created by boto3"
    assert meta["AWSAccountId"] == ACCOUNT
    match = ARN_RE.match(meta["Arn"])
    assert match, meta["Arn"]
    assert match.group(1) == meta["KeyId"]
    assert str(uuid.UUID(meta["KeyId"])) == meta["KeyId"]
    assert "SYMMETRIC_DEFAULT" in meta["EncryptionAlgorithms"]


def test_encrypt_decrypt_round_trip_binds_encryption_context(kms, key_id):
    context = {"tenant": "acme", "purpose": "pytest"}
    plaintext = b"\x00secret bytes\xff" * 3
    enc = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=context)
    assert enc["CiphertextBlob"] != plaintext
    assert ARN_RE.match(enc["KeyId"]).group(1) == key_id
    assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"

    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=context)
    assert dec["Plaintext"] == plaintext
    assert ARN_RE.match(dec["KeyId"]).group(1) == key_id

    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"tenant": "other", "purpose": "pytest"})
    assert error_code(e) == "InvalidCiphertextException"
    assert http_status(e) == 400
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])
    assert error_code(e) == "InvalidCiphertextException"


def test_generate_data_key_returns_plaintext_that_its_ciphertext_decrypts_to(kms, key_id):
    dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert isinstance(dk["Plaintext"], bytes)
    assert len(dk["Plaintext"]) == 32
    assert ARN_RE.match(dk["KeyId"]).group(1) == key_id
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]

    other = kms.generate_data_key(KeyId=key_id, NumberOfBytes=16)
    assert len(other["Plaintext"]) == 16
    assert other["Plaintext"] != dk["Plaintext"][:16]


def test_generate_data_key_without_plaintext_returns_only_a_decryptable_ciphertext(kms, key_id):
    context = {"k": "v"}
    dk = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    assert "Plaintext" not in dk
    assert ARN_RE.match(dk["KeyId"]).group(1) == key_id
    plaintext = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=context)["Plaintext"]
    assert len(plaintext) == 32


def test_rotate_key_on_demand_keeps_old_ciphertexts_decryptable(kms, key_id):
    before = kms.encrypt(KeyId=key_id, Plaintext=b"before rotation")["CiphertextBlob"]
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []

    rotated = kms.rotate_key_on_demand(KeyId=key_id)
    assert rotated["KeyId"] in (key_id, kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])

    after = kms.encrypt(KeyId=key_id, Plaintext=b"after rotation")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"before rotation"
    assert kms.decrypt(CiphertextBlob=after)["Plaintext"] == b"after rotation"

    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert len(rotations) == 1
    assert rotations[0]["RotationType"] == "ON_DEMAND"
    assert ARN_RE.match(rotations[0]["KeyId"]).group(1) == key_id


def test_alias_can_be_used_to_encrypt_and_is_listed(kms, key_id):
    alias = f"alias/pytest-{uuid.uuid4().hex[:12]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)

    enc = kms.encrypt(KeyId=alias, Plaintext=b"via alias")
    assert ARN_RE.match(enc["KeyId"]).group(1) == key_id
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == b"via alias"
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key_id

    listed = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == alias]
    assert len(listed) == 1
    assert listed[0]["TargetKeyId"] == key_id
    assert listed[0]["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    by_key = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [a["AliasName"] for a in by_key] == [alias]


def test_disabled_key_refuses_encrypt_until_enabled(kms, key_id):
    kms.disable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_code(e) == "DisabledException"
    assert http_status(e) == 400

    kms.enable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled"
    assert meta["Enabled"] is True
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_scheduled_deletion_blocks_use_and_cancelling_leaves_key_disabled(kms, key_id):
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    assert "DeletionDate" in scheduled
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert meta["Enabled"] is False
    assert "DeletionDate" in meta

    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_code(e) == "KMSInvalidStateException"
    assert http_status(e) == 400

    kms.cancel_key_deletion(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled"
    assert "DeletionDate" not in meta
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_code(e) == "DisabledException"


def test_ecc_p256_signature_verifies_in_kms_and_with_cryptography(kms):
    meta = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    assert meta["KeySpec"] == "ECC_NIST_P256"
    assert meta["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    key_id = meta["KeyId"]
    message = b"message signed by Keysafe"

    sig = kms.sign(KeyId=key_id, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    assert sig["SigningAlgorithm"] == "ECDSA_SHA_256"
    signature = sig["Signature"]
    assert signature[0] == 0x30  # DER-encoded ECDSA-Sig-Value, as AWS KMS returns

    ok = kms.verify(
        KeyId=key_id, Message=message, MessageType="RAW", Signature=signature, SigningAlgorithm="ECDSA_SHA_256"
    )
    assert ok["SignatureValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify(
            KeyId=key_id, Message=message + b"!", MessageType="RAW", Signature=signature, SigningAlgorithm="ECDSA_SHA_256"
        )
    assert error_code(e) == "KMSInvalidSignatureException"

    public = kms.get_public_key(KeyId=key_id)
    assert public["KeySpec"] == "ECC_NIST_P256"
    assert public["KeyUsage"] == "SIGN_VERIFY"

    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_der_public_key
    except ImportError:
        pytest.skip("the `cryptography` package is not importable; verified with KMS only")
    pub = load_der_public_key(public["PublicKey"])
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    assert pub.curve.name == "secp256r1"
    pub.verify(signature, message, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature on mismatch
    with pytest.raises(InvalidSignature):
        pub.verify(signature, message + b"!", ec.ECDSA(hashes.SHA256()))


def test_hmac_key_generates_and_verifies_macs_and_rejects_tampered_ones(kms):
    meta = kms.create_key(KeyUsage="GENERATE_VERIFY_MAC", KeySpec="HMAC_256")["KeyMetadata"]
    assert meta["MacAlgorithms"] == ["HMAC_SHA_256"]
    key_id = meta["KeyId"]
    message = b"authenticate me"

    mac = kms.generate_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == 32
    assert kms.generate_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"] == mac
    ok = kms.verify_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256", Mac=mac)
    assert ok["MacValid"] is True

    tampered = bytes([mac[0] ^ 0x01]) + mac[1:]
    with pytest.raises(ClientError) as e:
        kms.verify_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256", Mac=tampered)
    assert error_code(e) == "KMSInvalidMacException"
    assert http_status(e) == 400
    with pytest.raises(ClientError) as e:
        kms.verify_mac(KeyId=key_id, Message=message + b"!", MacAlgorithm="HMAC_SHA_256", Mac=mac)
    assert error_code(e) == "KMSInvalidMacException"


def test_request_signed_with_wrong_secret_key_is_rejected(kms_for):
    bad = kms_for(secret_access_key=base64.b64encode(b"not the real secret key!!!!!!!").decode())
    with pytest.raises(ClientError) as e:
        bad.list_keys()
    assert error_code(e) == "InvalidSignatureException"
    assert http_status(e) in (400, 403)


def test_request_with_unknown_access_key_is_rejected(kms_for):
    bad = kms_for(access_key_id="AKIAUNKNOWNUNKNOWN00")
    with pytest.raises(ClientError) as e:
        bad.list_keys()
    assert error_code(e) == "UnrecognizedClientException"
    assert http_status(e) in (400, 403)


def test_missing_key_is_reported_as_not_found(kms):
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=str(uuid.uuid4()))
    assert error_code(e) == "NotFoundException"
    assert http_status(e) == 400


def test_alias_refusals_answer_as_aws(kms, key_id):
    def refusal(call, **kwargs):
        with pytest.raises(ClientError) as excinfo:
            call(**kwargs)
        return error_code(excinfo), excinfo.value.response["Error"]["Message"]

    assert refusal(kms.create_alias, AliasName="orders", TargetKeyId=key_id) == (
        "ValidationException",
        'Alias must start with the prefix "alias/". '
        "Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    )
    # AWS sends no message for a reserved name: botocore shows it as "".
    assert refusal(kms.create_alias, AliasName="alias/aws/ebs", TargetKeyId=key_id) == ("NotAuthorizedException", "")
    assert refusal(kms.delete_alias, AliasName="alias/aws/ebs") == ("NotAuthorizedException", "")
    assert refusal(kms.create_alias, AliasName="alias/a:b", TargetKeyId=key_id) == (
        "ValidationException",
        "alias/a:b contains invalid characters for an alias",
    )
    alias = f"alias/pytest-{uuid.uuid4().hex[:12]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    assert refusal(kms.create_alias, AliasName=f"{alias}-2", TargetKeyId=alias) == (
        "ValidationException",
        "Aliases must refer to keys. Not aliases",
    )
    # Management operations take only a key id or key ARN.
    assert refusal(kms.enable_key_rotation, KeyId=alias) == ("NotFoundException", f"Invalid keyId {alias}")
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    assert refusal(kms.get_key_policy, KeyId=alias_arn, PolicyName="default") == (
        "NotFoundException",
        f"Invalid keyId {alias_arn}",
    )
