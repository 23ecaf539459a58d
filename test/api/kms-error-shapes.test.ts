// Every error shape botocore's KMS model documents for an operation is a code Keysafe knows, with AWS's
// status, and is either produced here by a request to the real server or said to be impossible, and why.
import { randomUUID } from 'node:crypto';
import { REFUSED_FOR_GOOD } from './coverage-lists.js';
import { describeErrorShapes, type Produce as ProduceOf, type Way as WayOf } from './error-shapes.js';
import { ECDSA, type Fixtures, GRANTEE, HMAC, kmsShapeFixtures, MSG, WRAPPING } from './kms-shape-fixtures.js';

type Produce = ProduceOf<Fixtures>;
type Way = WayOf<Fixtures>;

const MAC = Buffer.alloc(32).toString('base64');
const missing = () => randomUUID();
const NO_GRANT = '0'.repeat(64);
const ZEROS_256 = Buffer.alloc(256).toString('base64');
const NOT_A_TOKEN = Buffer.from('not an import token').toString('base64');

/** A valid input for each operation on a key (`k`) of the kind it takes; `f` for the rest. */
const ON_KEY: Record<string, (k: string, f: Fixtures) => object> = {
  Encrypt: (KeyId) => ({ KeyId, Plaintext: MSG }),
  Decrypt: (KeyId, f) => ({ KeyId, CiphertextBlob: f.blob }),
  ReEncrypt: (DestinationKeyId, f) => ({ CiphertextBlob: f.blob, DestinationKeyId }),
  GenerateDataKey: (KeyId) => ({ KeyId, KeySpec: 'AES_256' }),
  GenerateDataKeyWithoutPlaintext: (KeyId) => ({ KeyId, KeySpec: 'AES_256' }),
  GenerateDataKeyPair: (KeyId) => ({ KeyId, KeyPairSpec: 'ECC_NIST_P256' }),
  GenerateDataKeyPairWithoutPlaintext: (KeyId) => ({ KeyId, KeyPairSpec: 'ECC_NIST_P256' }),
  Sign: (KeyId) => ({ KeyId, Message: MSG, SigningAlgorithm: ECDSA }),
  Verify: (KeyId, f) => ({ KeyId, Message: MSG, Signature: f.signature, SigningAlgorithm: ECDSA }),
  GetPublicKey: (KeyId) => ({ KeyId }),
  GenerateMac: (KeyId) => ({ KeyId, Message: MSG, MacAlgorithm: HMAC }),
  VerifyMac: (KeyId, f) => ({ KeyId, Message: MSG, MacAlgorithm: HMAC, Mac: f.macValue }),
  DescribeKey: (KeyId) => ({ KeyId }),
  EnableKey: (KeyId) => ({ KeyId }),
  DisableKey: (KeyId) => ({ KeyId }),
  CancelKeyDeletion: (KeyId) => ({ KeyId }),
  ScheduleKeyDeletion: (KeyId) => ({ KeyId, PendingWindowInDays: 7 }),
  UpdateKeyDescription: (KeyId) => ({ KeyId, Description: 'd' }),
  EnableKeyRotation: (KeyId) => ({ KeyId }),
  DisableKeyRotation: (KeyId) => ({ KeyId }),
  GetKeyRotationStatus: (KeyId) => ({ KeyId }),
  RotateKeyOnDemand: (KeyId) => ({ KeyId }),
  ReplicateKey: (KeyId) => ({ KeyId, ReplicaRegion: 'eu-west-1' }),
  UpdatePrimaryRegion: (KeyId) => ({ KeyId, PrimaryRegion: 'eu-west-1' }),
  ListKeyRotations: (KeyId) => ({ KeyId }),
  GetKeyPolicy: (KeyId) => ({ KeyId }),
  PutKeyPolicy: (KeyId) => ({ KeyId, Policy: ROOT_POLICY }),
  ListKeyPolicies: (KeyId) => ({ KeyId }),
  TagResource: (KeyId) => ({ KeyId, Tags: [{ TagKey: 'k', TagValue: 'v' }] }),
  UntagResource: (KeyId) => ({ KeyId, TagKeys: ['k'] }),
  ListResourceTags: (KeyId) => ({ KeyId }),
  ListAliases: (KeyId) => ({ KeyId }),
  CreateGrant: (KeyId) => ({ KeyId, GranteePrincipal: GRANTEE, Operations: ['Decrypt'] }),
  ListGrants: (KeyId) => ({ KeyId }),
  RetireGrant: (KeyId) => ({ KeyId, GrantId: NO_GRANT }),
  RevokeGrant: (KeyId) => ({ KeyId, GrantId: NO_GRANT }),
  CreateAlias: (TargetKeyId) => ({ AliasName: `alias/${randomUUID()}`, TargetKeyId }),
  UpdateAlias: (TargetKeyId) => ({ AliasName: 'alias/shapes', TargetKeyId }),
  DeriveSharedSecret: (KeyId, f) => ({ KeyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: f.peerKey }),
  GetKeyLastUsage: (KeyId) => ({ KeyId }),
  GetParametersForImport: (KeyId) => ({ KeyId, ...WRAPPING }),
  ImportKeyMaterial: (KeyId, f) => ({
    KeyId,
    ImportToken: f.importToken,
    EncryptedKeyMaterial: f.wrapped,
    ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  }),
  DeleteImportedKeyMaterial: (KeyId) => ({ KeyId }),
};
const IMPORT_OPERATIONS = ['GetParametersForImport', 'ImportKeyMaterial', 'DeleteImportedKeyMaterial'];

const ROOT_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' },
  ],
});

/** Which key of the fixtures an operation takes, in a given state. */
function keyFor(op: string, f: Fixtures, state: 'enabled' | 'disabled' | 'pending'): string {
  const kind = ['Sign', 'Verify', 'GetPublicKey'].includes(op)
    ? 'sign'
    : ['GenerateMac', 'VerifyMac'].includes(op)
      ? 'mac'
      : op === 'DeriveSharedSecret'
        ? 'agree'
        : IMPORT_OPERATIONS.includes(op)
          ? 'external'
          : 'sym';
  const table: Record<string, Partial<Record<typeof state, string>>> = {
    sym: { enabled: f.sym, disabled: f.disabled, pending: f.pending },
    sign: { enabled: f.sign, disabled: f.signDisabled, pending: f.signPending },
    mac: { enabled: f.mac, disabled: f.macDisabled, pending: f.macPending },
    agree: { enabled: f.agree, disabled: f.agreeDisabled, pending: f.agreePending },
    // A key pending import is neither enabled nor disabled: the import operations take it as it is.
    external: { enabled: f.external, pending: f.externalPending },
  };
  const k = table[kind]![state];
  if (k === undefined) throw new Error(`no ${state} ${kind} key in the fixtures for ${op}`);
  return k;
}

const onKeyIn =
  (state: 'enabled' | 'disabled' | 'pending', op: string): Produce =>
  (f) => {
    // Decrypt names its key through the ciphertext.
    if (op === 'Decrypt' && state !== 'enabled')
      return { CiphertextBlob: state === 'disabled' ? f.blobDisabled : f.blobPending };
    if (op === 'ReEncrypt' && state !== 'enabled') {
      return { CiphertextBlob: state === 'disabled' ? f.blobDisabled : f.blobPending, DestinationKeyId: f.sym };
    }
    return ON_KEY[op]!(keyFor(op, f, state), f);
  };

const NEVER = {
  dependency: 'Keysafe calls no other service in a request: its store failing is InternalFailure (500).',
  unavailable: 'Every key is in Keysafe’s own store; there is no external key store to be unreachable.',
  internal: 'Only for unexpected failures of Keysafe itself, which no correct request causes.',
  customStore: 'Custom key stores are refused (UnsupportedOperationException): README, "Refused operations".',
  grantsAnyState: 'A grant is retired or revoked whatever its key’s state, so none outlives a key being deleted.',
  invalidArn:
    'Keysafe answers an ARN it cannot read as NotFoundException "Invalid keyId …", as AWS does for key ids (reference §1.3).',
  noQuota: 'Keysafe sets no quota on keys, aliases or enabled keys (LimitExceededException needs one).',
  policySize: 'A key policy over 32 KB is MalformedPolicyDocumentException here, from the policy compiler.',
  tagCount: 'Too many tags is TagException "Too many tags", as AWS answers it (reference §1.6).',
  atomicRotation: 'A rotation is one store transaction here: none is ever "in progress" for another to conflict with.',
  deleteAlias: 'DeleteAlias works whatever the state of the alias’s key, so no state refuses it.',
  tagsOnPending: 'Keysafe tags and untags a key in any state.',
  aliasTarget: 'UpdateAlias and CreateAlias report a missing alias or key as NotFoundException.',
  anyState: 'Keysafe reads a key’s policy and rotations in every state it has (PendingImport comes with issue 16).',
  deletedKey:
    'A ciphertext names its key itself: only a key whose deletion completed (7 days at least) is not found (test/kms/lifecycle.test.ts).',
  expiredToken:
    'An import token expires 24 hours after GetParametersForImport; this table signs with SigV4 on the wall clock, so it is produced on a moved server clock in test/integration/kms-import.test.ts and test/kms/import.test.ts.',
  dataKeyPairSpecs:
    'Every KeyPairSpec the model allows is implemented except SM2, which is a ValidationException here.',
};

const BY_ERROR: Partial<Record<string, (op: string) => Way>> = {
  NotFoundException: (op) => ({
    produce:
      op === 'DeleteAlias'
        ? () => ({ AliasName: `alias/${randomUUID()}` })
        : op === 'UpdateAlias'
          ? (f) => ({ AliasName: `alias/${randomUUID()}`, TargetKeyId: f.sym })
          : (f) => ON_KEY[op]!(missing(), f),
  }),
  DisabledException: (op) => ({ produce: onKeyIn('disabled', op) }),
  KMSInvalidStateException: (op) => ({ produce: onKeyIn('pending', op) }),
  InvalidKeyUsageException: (op) => ({
    produce: (f) =>
      ON_KEY[op]!(['Sign', 'Verify', 'GenerateMac', 'VerifyMac', 'GetPublicKey'].includes(op) ? f.sym : f.sign, f),
  }),
  IncorrectKeyException: (op) => ({
    produce: (f) =>
      op === 'Decrypt'
        ? { CiphertextBlob: f.blob, KeyId: f.sign }
        : { CiphertextBlob: f.blob, SourceKeyId: f.disabled, DestinationKeyId: f.sym },
  }),
  InvalidCiphertextException: (op) => ({
    produce: (f) => ({ ...ON_KEY[op]!(f.sym, f), CiphertextBlob: Buffer.from('not a ciphertext').toString('base64') }),
  }),
  DryRunOperationException: (op) => ({ produce: (f) => ({ ...onKeyIn('enabled', op)(f), DryRun: true }) }),
  KMSInvalidSignatureException: () => ({ produce: (f) => ({ ...ON_KEY.Verify!(f.sign, f), Message: 'aG8=' }) }),
  KMSInvalidMacException: () => ({ produce: (f) => ({ ...ON_KEY.VerifyMac!(f.mac, f), Mac: MAC }) }),
  InvalidMarkerException: (op) => ({
    produce: (f) => ({ ...(op in ON_KEY ? ON_KEY[op]!(f.sym, f) : {}), Marker: '!!not-a-marker' }),
  }),
  DependencyTimeoutException: () => ({ never: NEVER.dependency }),
  KeyUnavailableException: () => ({ never: NEVER.unavailable }),
  KMSInternalException: () => ({ never: NEVER.internal }),
  InvalidArnException: () => ({ never: NEVER.invalidArn }),
  InvalidGrantTokenException: (op) => ({
    produce: (f) =>
      op === 'RetireGrant'
        ? { GrantToken: 'not-a-grant-token' }
        : { ...onKeyIn('enabled', op)(f), GrantTokens: ['not-a-grant-token'] },
  }),
  InvalidGrantIdException: (op) => ({ produce: (f) => ({ ...onKeyIn('enabled', op)(f), GrantId: 'not-a-grant-id' }) }),
  LimitExceededException: () => ({ never: NEVER.noQuota }),
};
for (const e of [
  'CustomKeyStoreNotFoundException',
  'CustomKeyStoreInvalidStateException',
  'CloudHsmClusterInvalidConfigurationException',
  'XksKeyInvalidConfigurationException',
  'XksKeyAlreadyInUseException',
  'XksKeyNotFoundException',
]) {
  BY_ERROR[e] = () => ({ never: NEVER.customStore });
}

/** Where an operation differs from its error's usual way. */
const PER_OPERATION: Record<string, Record<string, Way>> = {
  CreateKey: {
    MalformedPolicyDocumentException: { produce: () => ({ Policy: '{not json' }) },
    UnsupportedOperationException: { produce: () => ({ Origin: 'AWS_CLOUDHSM' }) },
    TagException: { produce: () => ({ Tags: [{ TagKey: 'aws:x', TagValue: 'v' }] }) },
  },
  PutKeyPolicy: {
    MalformedPolicyDocumentException: { produce: (f) => ({ KeyId: f.sym, Policy: '{not json' }) },
    UnsupportedOperationException: { never: 'Every symmetric, asymmetric and HMAC key takes a key policy here.' },
    LimitExceededException: { never: NEVER.policySize },
  },
  CreateAlias: {
    AlreadyExistsException: { produce: (f) => ({ AliasName: 'alias/shapes', TargetKeyId: f.sym }) },
    InvalidAliasNameException: { produce: (f) => ({ AliasName: 'alias/', TargetKeyId: f.sym }) },
  },
  DeleteAlias: { KMSInvalidStateException: { never: NEVER.deleteAlias } },
  // Cancelling the deletion of a key not pending deletion (and leaving the pending keys pending).
  CancelKeyDeletion: { KMSInvalidStateException: { produce: (f) => ({ KeyId: f.sym }) } },
  Decrypt: {
    NotFoundException: { never: NEVER.deletedKey },
    InvalidKeyUsageException: {
      never:
        'A ciphertext names its key, always an ENCRYPT_DECRYPT one; a KeyId naming another is IncorrectKeyException.',
    },
  },
  GetKeyPolicy: { KMSInvalidStateException: { never: NEVER.anyState } },
  ListKeyPolicies: { KMSInvalidStateException: { never: NEVER.anyState } },
  GetPublicKey: {
    UnsupportedOperationException: { produce: (f) => ({ KeyId: f.sym }) },
    InvalidKeyUsageException: {
      never: 'A key without a public key (symmetric, HMAC) is UnsupportedOperationException here.',
    },
  },
  TagResource: {
    TagException: { produce: (f) => ({ KeyId: f.sym, Tags: [{ TagKey: 'aws:x', TagValue: 'v' }] }) },
    LimitExceededException: { never: NEVER.tagCount },
  },
  UntagResource: {
    TagException: {
      never: 'Untagging a key that is not there, aws: keys included, is a no-op here, as removing nothing.',
    },
  },
  ReplicateKey: {
    AlreadyExistsException: { produce: (f) => ({ KeyId: f.mrk, ReplicaRegion: 'us-east-1' }) },
    UnsupportedOperationException: { produce: (f) => ({ KeyId: f.sym, ReplicaRegion: 'eu-west-1' }) },
    MalformedPolicyDocumentException: {
      produce: (f) => ({ KeyId: f.mrk, ReplicaRegion: 'eu-west-1', Policy: '{not json' }),
    },
    TagException: {
      produce: (f) => ({ KeyId: f.mrk, ReplicaRegion: 'eu-west-1', Tags: [{ TagKey: 'aws:x', TagValue: 'v' }] }),
    },
  },
  UpdatePrimaryRegion: {
    UnsupportedOperationException: { produce: (f) => ({ KeyId: f.sym, PrimaryRegion: 'eu-west-1' }) },
  },
  RotateKeyOnDemand: {
    UnsupportedOperationException: { produce: (f) => ({ KeyId: f.sign }) },
    LimitExceededException: { never: 'Reached after 25 on-demand rotations: tested in test/kms/rotation.test.ts.' },
    ConflictException: { never: NEVER.atomicRotation },
  },
  EnableKeyRotation: { UnsupportedOperationException: { produce: (f) => ({ KeyId: f.sign }) } },
  DisableKeyRotation: { UnsupportedOperationException: { produce: (f) => ({ KeyId: f.sign }) } },
  GetKeyRotationStatus: { UnsupportedOperationException: { produce: (f) => ({ KeyId: f.sign }) } },
  ListKeyRotations: {
    UnsupportedOperationException: { produce: (f) => ({ KeyId: f.sign }) },
    KMSInvalidStateException: { never: NEVER.anyState },
  },
  GenerateDataKeyPair: { UnsupportedOperationException: { never: NEVER.dataKeyPairSpecs } },
  GenerateDataKeyPairWithoutPlaintext: { UnsupportedOperationException: { never: NEVER.dataKeyPairSpecs } },
  GenerateRandom: { UnsupportedOperationException: { never: NEVER.customStore } },
  EnableKey: { LimitExceededException: { never: NEVER.noQuota } },
  UpdateAlias: { LimitExceededException: { never: NEVER.noQuota } },
  ListKeys: {},
  ListAliases: {},
  ListGrants: { KMSInvalidStateException: { never: NEVER.anyState } },
  ListRetirableGrants: {
    InvalidMarkerException: { produce: () => ({ RetiringPrincipal: GRANTEE, Marker: '!!not-a-marker' }) },
    NotFoundException: { never: 'A principal that may retire no grant lists none, as AWS answers.' },
  },
  RetireGrant: {
    KMSInvalidStateException: { never: NEVER.grantsAnyState },
    DryRunOperationException: { produce: (f) => ({ KeyId: f.sym, GrantId: f.grantId, DryRun: true }) },
  },
  GetParametersForImport: {
    UnsupportedOperationException: { produce: (f) => ON_KEY.GetParametersForImport!(f.sym, f) },
  },
  ImportKeyMaterial: {
    UnsupportedOperationException: { produce: (f) => ON_KEY.ImportKeyMaterial!(f.sym, f) },
    InvalidCiphertextException: {
      produce: (f) => ({ ...ON_KEY.ImportKeyMaterial!(f.external, f), EncryptedKeyMaterial: ZEROS_256 }),
    },
    IncorrectKeyMaterialException: {
      produce: (f) => ({ ...ON_KEY.ImportKeyMaterial!(f.external, f), EncryptedKeyMaterial: f.wrappedShort }),
    },
    InvalidImportTokenException: {
      produce: (f) => ({ ...ON_KEY.ImportKeyMaterial!(f.external, f), ImportToken: NOT_A_TOKEN }),
    },
    ExpiredImportTokenException: { never: NEVER.expiredToken },
  },
  DeleteImportedKeyMaterial: {
    UnsupportedOperationException: { produce: (f) => ON_KEY.DeleteImportedKeyMaterial!(f.sym, f) },
    KMSInvalidStateException: {
      never:
        'Keysafe deletes imported material in every state a key has here (Enabled, Disabled, PendingImport, PendingDeletion), as AWS does; AWS refuses only in states Keysafe has none of (Unavailable, Creating, Updating, PendingReplicaDeletion).',
    },
  },
  GetKeyLastUsage: {
    InvalidArnException: {
      never:
        'An alias name or alias ARN is NotFoundException "Invalid keyId …" here, as for every key-id-only operation (src/kms/api/key-id-only.ts); an ARN Keysafe cannot read is NotFoundException too.',
    },
  },
  RevokeGrant: {
    KMSInvalidStateException: { never: NEVER.grantsAnyState },
    DryRunOperationException: { produce: (f) => ({ KeyId: f.sym, GrantId: f.grantId, DryRun: true }) },
  },
};

/** The way each (operation, error) of the model is covered, or undefined when the table has none. */
function wayOf(op: string, error: string): Way | undefined {
  return PER_OPERATION[op]?.[error] ?? BY_ERROR[error]?.(op);
}

describeErrorShapes<Fixtures>({
  service: 'kms',
  target: 'TrentService',
  skip: (op) => REFUSED_FOR_GOOD.has(op),
  wayOf,
  fixtures: kmsShapeFixtures,
});
