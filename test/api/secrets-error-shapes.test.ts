// Every error shape botocore's Secrets Manager model documents for an operation is a code Keysafe knows, with
// AWS's status, and is either produced here by a request to the real server or said to be impossible, and why.
import { describeErrorShapes, succeed, type Way as WayOf } from './error-shapes.js';

interface Fixtures {
  live: string;
  deleted: string;
  undecryptable: string;
  disabledKey: string;
}
type Way = WayOf<Fixtures>;

const MISSING = 'no/such/secret';
const FIRST_TOKEN = 'token-of-the-first-version-00000001';
const PUBLIC = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue', Resource: '*' }],
});

/** A valid input for each operation on the secret `id`. */
const ON_SECRET: Record<string, (id: string) => object> = {
  CancelRotateSecret: (SecretId) => ({ SecretId }),
  DeleteResourcePolicy: (SecretId) => ({ SecretId }),
  DeleteSecret: (SecretId) => ({ SecretId }),
  DescribeSecret: (SecretId) => ({ SecretId }),
  GetResourcePolicy: (SecretId) => ({ SecretId }),
  GetSecretValue: (SecretId) => ({ SecretId }),
  ListSecretVersionIds: (SecretId) => ({ SecretId }),
  PutResourcePolicy: (SecretId) => ({ SecretId, ResourcePolicy: PUBLIC, BlockPublicPolicy: false }),
  PutSecretValue: (SecretId) => ({ SecretId, SecretString: 'v2' }),
  RestoreSecret: (SecretId) => ({ SecretId }),
  RotateSecret: (SecretId) => ({ SecretId }),
  TagResource: (SecretId) => ({ SecretId, Tags: [{ Key: 'k', Value: 'v' }] }),
  UntagResource: (SecretId) => ({ SecretId, TagKeys: ['k'] }),
  UpdateSecret: (SecretId) => ({ SecretId, Description: 'd' }),
  UpdateSecretVersionStage: (SecretId) => ({ SecretId, VersionStage: 'AWSCURRENT' }),
  ValidateResourcePolicy: (SecretId) => ({ SecretId, ResourcePolicy: PUBLIC }),
  BatchGetSecretValue: (SecretId) => ({ SecretIdList: [SecretId] }),
};

const NEVER = {
  internal: 'Only for unexpected failures of Keysafe itself, which no correct request causes.',
  noParameterCheck:
    'Keysafe checks this operation’s parameters against the model: ValidationException, no other check.',
  noState: 'No secret state refuses this operation here.',
  noSecret: 'The operation names no secret to be missing.',
  precondition:
    'AWS answers it for a secret managed by another service or replicated; Keysafe has neither yet (issue 16).',
  noPolicy: 'The operation takes no resource policy.',
  noKmsWrite: 'The operation encrypts nothing.',
  noKmsRead: 'The operation decrypts nothing.',
  noQuota: 'Keysafe sets no quota this operation could reach.',
  perItem: 'BatchGetSecretValue reports a secret it cannot return in Errors[], as AWS does.',
  nameTaken: 'The operation makes no name or version that could exist already.',
};

const BY_ERROR: Partial<Record<string, (op: string) => Way>> = {
  ResourceNotFoundException: (op) =>
    op in ON_SECRET && op !== 'BatchGetSecretValue'
      ? { produce: () => ON_SECRET[op]!(MISSING) }
      : { never: NEVER.noSecret },
  InvalidRequestException: (op) =>
    op in ON_SECRET && op !== 'RestoreSecret'
      ? { produce: (f) => ON_SECRET[op]!(f.deleted) }
      : { never: NEVER.noState },
  InvalidParameterException: () => ({ never: NEVER.noParameterCheck }),
  InternalServiceError: () => ({ never: NEVER.internal }),
  DecryptionFailure: () => ({ never: NEVER.noKmsRead }),
  EncryptionFailure: () => ({ never: NEVER.noKmsWrite }),
  LimitExceededException: () => ({ never: NEVER.noQuota }),
  ResourceExistsException: () => ({ never: NEVER.nameTaken }),
  MalformedPolicyDocumentException: () => ({ never: NEVER.noPolicy }),
  PreconditionNotMetException: () => ({ never: NEVER.precondition }),
  InvalidNextTokenException: () => ({ produce: () => ({ NextToken: '!!not-a-token' }) }),
};

/** Where an operation differs from its error's usual way. */
const PER_OPERATION: Record<string, Record<string, Way>> = {
  CreateSecret: {
    ResourceExistsException: { produce: (f) => ({ Name: f.live, SecretString: 'x' }) },
    InvalidParameterException: {
      produce: () => ({ Name: 'tagged', SecretString: 'x', Tags: [{ Key: 'aws:x', Value: 'v' }] }),
    },
    InvalidRequestException: { produce: (f) => ({ Name: f.deleted, SecretString: 'x' }) },
    EncryptionFailure: { produce: (f) => ({ Name: 'enc-fail', SecretString: 'x', KmsKeyId: f.disabledKey }) },
    ResourceNotFoundException: {
      never: 'A missing KmsKeyId is InvalidParameterException "The KMS key … can\'t be found."',
    },
    LimitExceededException: { produce: () => ({ Name: 'many-tags', SecretString: 'x', Tags: manyTags() }) },
    MalformedPolicyDocumentException: { never: NEVER.noPolicy },
    DecryptionFailure: { never: NEVER.noKmsRead },
  },
  GetSecretValue: { DecryptionFailure: { produce: (f) => ({ SecretId: f.undecryptable }) } },
  BatchGetSecretValue: {
    InvalidParameterException: { produce: () => ({ SecretIdList: ['a'], Filters: [{ Key: 'name', Values: ['a'] }] }) },
    DecryptionFailure: { never: NEVER.perItem },
    InvalidRequestException: { never: NEVER.perItem },
    InvalidNextTokenException: { produce: () => ({ Filters: [{ Key: 'name', Values: ['a'] }], NextToken: '!!bad' }) },
  },
  GetResourcePolicy: { InvalidRequestException: { never: NEVER.noState } },
  ListSecretVersionIds: { InvalidNextTokenException: { produce: (f) => ({ SecretId: f.live, NextToken: '!!bad' }) } },
  PutSecretValue: {
    InvalidParameterException: { produce: (f) => ({ SecretId: f.live }) },
    EncryptionFailure: { produce: (f) => ({ SecretId: f.undecryptable, SecretString: 'x' }) },
    ResourceExistsException: {
      produce: (f) => ({
        SecretId: f.live,
        SecretString: 'other',
        ClientRequestToken: FIRST_TOKEN,
      }),
    },
  },
  UpdateSecret: {
    EncryptionFailure: { produce: (f) => ({ SecretId: f.undecryptable, SecretString: 'x' }) },
  },
  TagResource: {
    InvalidParameterException: { produce: (f) => ({ SecretId: f.live, Tags: [{ Key: 'aws:x', Value: 'v' }] }) },
  },
  PutResourcePolicy: {
    MalformedPolicyDocumentException: { produce: (f) => ({ SecretId: f.live, ResourcePolicy: '{not json' }) },
    PublicPolicyException: { produce: (f) => ({ SecretId: f.live, ResourcePolicy: PUBLIC, BlockPublicPolicy: true }) },
  },
  ValidateResourcePolicy: {
    MalformedPolicyDocumentException: {
      never: 'Keysafe reports a malformed document in ValidationErrors (PolicyValidationPassed false).',
    },
    InvalidRequestException: { never: NEVER.noState },
  },
  GetRandomPassword: {
    InvalidParameterException: { produce: () => ({ PasswordLength: 3, RequireEachIncludedType: true }) },
  },
  DeleteSecret: {
    InvalidParameterException: { produce: (f) => ({ SecretId: f.live, RecoveryWindowInDays: 3 }) },
  },
  ListSecrets: {
    InvalidParameterException: {
      never: 'Filters are checked against the model only, for now: the Secrets Manager part of issue 16 adds the rest.',
    },
  },
};

function manyTags() {
  return Array.from({ length: 51 }, (_, n) => ({ Key: `t${n}`, Value: 'v' }));
}

function wayOf(op: string, error: string): Way | undefined {
  return PER_OPERATION[op]?.[error] ?? BY_ERROR[error]?.(op);
}

describeErrorShapes<Fixtures>({
  service: 'secretsmanager',
  target: 'secretsmanager',
  skip: () => false,
  wayOf,
  async fixtures(call) {
    const ok = (target: string, input: object) => succeed(call, target, input);
    const disabledKey = (await ok('TrentService.CreateKey', {})).KeyMetadata.KeyId;
    await ok('secretsmanager.CreateSecret', { Name: 'live', SecretString: 'v1', ClientRequestToken: FIRST_TOKEN });
    await ok('secretsmanager.CreateSecret', { Name: 'deleted', SecretString: 'v' });
    await ok('secretsmanager.DeleteSecret', { SecretId: 'deleted', RecoveryWindowInDays: 7 });
    await ok('secretsmanager.CreateSecret', { Name: 'undecryptable', SecretString: 'v', KmsKeyId: disabledKey });
    await ok('TrentService.DisableKey', { KeyId: disabledKey });
    return { live: 'live', deleted: 'deleted', undecryptable: 'undecryptable', disabledKey };
  },
});
