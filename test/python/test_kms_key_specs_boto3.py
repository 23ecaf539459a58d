# boto3 against a running Keysafe server: KEY_AGREEMENT keys with DeriveSharedSecret, Ed25519, ML-DSA, GetKeyLastUsage.
import hashlib

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)


def test_derive_shared_secret_matches_the_peer(kms):
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    assert key["KeyAgreementAlgorithms"] == ["ECDH"]
    public = kms.get_public_key(KeyId=key["KeyId"])
    assert public["KeyUsage"] == "KEY_AGREEMENT"

    peer = ec.generate_private_key(ec.SECP256R1())
    peer_der = peer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    derived = kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)

    theirs = peer.exchange(ec.ECDH(), load_der_public_key(public["PublicKey"]))
    assert derived["SharedSecret"] == theirs
    assert derived["KeyAgreementAlgorithm"] == "ECDH"
    assert derived["KeyOrigin"] == "AWS_KMS"


def test_derive_shared_secret_refuses_a_signing_key(kms):
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    peer_der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ClientError) as e:
        kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert e.value.response["Error"]["Code"] == "InvalidKeyUsageException"


def test_ed25519_ph_and_ml_dsa_sign_and_verify(kms):
    ed = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    digest = hashlib.sha512(b"boto3").digest()
    sig = kms.sign(KeyId=ed, Message=digest, MessageType="DIGEST", SigningAlgorithm="ED25519_PH_SHA_512")
    assert kms.verify(
        KeyId=ed, Message=digest, MessageType="DIGEST", Signature=sig["Signature"], SigningAlgorithm="ED25519_PH_SHA_512"
    )["SignatureValid"]

    ml = kms.create_key(KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    sig = kms.sign(KeyId=ml, Message=b"boto3", SigningAlgorithm="ML_DSA_SHAKE_256")
    assert kms.verify(KeyId=ml, Message=b"boto3", Signature=sig["Signature"], SigningAlgorithm="ML_DSA_SHAKE_256")[
        "SignatureValid"
    ]


def test_get_key_last_usage_before_and_after_use(kms):
    key_id = kms.create_key(Description="usage")["KeyMetadata"]["KeyId"]
    before = kms.get_key_last_usage(KeyId=key_id)
    assert before["KeyId"] == key_id
    assert not before.get("KeyLastUsage")
    assert before["TrackingStartDate"] >= before["KeyCreationDate"]

    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    after = kms.get_key_last_usage(KeyId=key_id)
    assert after["KeyLastUsage"]["Operation"] == "Encrypt"
    assert after["KeyLastUsage"]["Timestamp"] >= before["KeyCreationDate"]
