// KMS answers as AWS does, exact strings through the real server: alias names, aliases where only a key id
// or key ARN is taken, failed verifications without a message, and the key policy lockout safety check.
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  type KMSClient,
  PutKeyPolicyCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, failure, REGION, roleArn } from '../support/sdk.js';
import { bearerCall } from '../support/session.js';
import { postRaw, signJsonRequest } from '../support/sigv4.js';
import { policyOf, startWorkloadServer, type WorkloadServer } from '../support/workload.js';

let world: WorkloadServer;
let kms: KMSClient;
let keyId: string;
let token: string;

const KEYADMIN = 'keyadmin';
const ALIAS_DOC = 'Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html';

/** An admin call's status and body as they are on the wire. */
async function raw(operation: string, input: object): Promise<{ status: number; body: unknown }> {
  const body = JSON.stringify(input);
  const headers = await signJsonRequest(world.server.url, world.server.admin, `TrentService.${operation}`, body);
  const answer = await postRaw(world.server.url, headers, body);
  return { status: answer.status, body: JSON.parse(answer.text) };
}

const rootStatement = {
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  Action: 'kms:*',
  Resource: '*',
};
const only = (principal: string, actions: string[]) =>
  JSON.stringify(policyOf([{ Effect: 'Allow', Principal: { AWS: principal }, Action: actions, Resource: '*' }]));
const LOCKOUT = {
  name: 'MalformedPolicyDocumentException',
  message: 'The new key policy will not allow you to update the key policy in the future.',
};

beforeAll(async () => {
  world = await startWorkloadServer({
    roles: [
      {
        name: KEYADMIN,
        subjects: ['system:serviceaccount:shop:web'],
        policy: policyOf([{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }]),
      },
    ],
  });
  kms = world.server.kmsClient();
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
  keyId = KeyMetadata!.KeyId!;
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/fidelity', TargetKeyId: keyId }));
  token = await world.session(KEYADMIN);
});
afterAll(async () => {
  kms.destroy();
  await world.stop();
});

describe('alias names', () => {
  it.each([
    ['orders', 'ValidationException', `Alias must start with the prefix "alias/". ${ALIAS_DOC}`],
    [
      'alias/sp ace',
      'ValidationException',
      "1 validation error detected: Value 'alias/sp ace' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
    ],
    ['alias/a:b', 'ValidationException', 'alias/a:b contains invalid characters for an alias'],
  ])('CreateAlias, UpdateAlias and DeleteAlias refuse %s with AWS text', async (name, code, message) => {
    const calls = [
      new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }),
      new UpdateAliasCommand({ AliasName: name, TargetKeyId: keyId }),
      new DeleteAliasCommand({ AliasName: name }),
    ];
    for (const call of calls) {
      // biome-ignore lint/suspicious/noExplicitAny: three command types, one client.
      expect(await failure(kms.send(call as any))).toMatchObject({ name: code, status: 400, message });
    }
  });

  it('answers alias/aws/ names NotAuthorizedException without a message, as AWS', async () => {
    for (const op of ['CreateAlias', 'UpdateAlias', 'DeleteAlias']) {
      const input =
        op === 'DeleteAlias' ? { AliasName: 'alias/aws/ebs' } : { AliasName: 'alias/aws/ebs', TargetKeyId: keyId };
      expect(await raw(op, input)).toEqual({ status: 400, body: { __type: 'NotAuthorizedException' } });
    }
    // The JS SDK shows a missing message as "UnknownError", as it does for AWS's answer.
    const e = await failure(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/ebs', TargetKeyId: keyId })));
    expect(e).toMatchObject({ name: 'NotAuthorizedException', message: 'UnknownError' });
  });

  it('refuses an alias as TargetKeyId, existing or not, before looking anything up', async () => {
    for (const target of ['alias/fidelity', 'alias/none', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/fidelity`]) {
      for (const call of [
        new CreateAliasCommand({ AliasName: 'alias/new-one', TargetKeyId: target }),
        new UpdateAliasCommand({ AliasName: 'alias/fidelity', TargetKeyId: target }),
      ]) {
        // biome-ignore lint/suspicious/noExplicitAny: two command types, one client.
        expect(await failure(kms.send(call as any))).toMatchObject({
          name: 'ValidationException',
          message: 'Aliases must refer to keys. Not aliases',
        });
      }
    }
  });
});

describe('operations taking only a key id or key ARN', () => {
  const policy = () => JSON.stringify(policyOf([rootStatement]));
  const inputs: Record<string, (ref: string) => object> = {
    CancelKeyDeletion: (KeyId) => ({ KeyId }),
    DisableKey: (KeyId) => ({ KeyId }),
    EnableKey: (KeyId) => ({ KeyId }),
    DisableKeyRotation: (KeyId) => ({ KeyId }),
    EnableKeyRotation: (KeyId) => ({ KeyId }),
    GetKeyRotationStatus: (KeyId) => ({ KeyId }),
    ListKeyRotations: (KeyId) => ({ KeyId }),
    RotateKeyOnDemand: (KeyId) => ({ KeyId }),
    GetKeyPolicy: (KeyId) => ({ KeyId, PolicyName: 'default' }),
    PutKeyPolicy: (KeyId) => ({ KeyId, PolicyName: 'default', Policy: policy() }),
    ListKeyPolicies: (KeyId) => ({ KeyId }),
    TagResource: (KeyId) => ({ KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] }),
    UntagResource: (KeyId) => ({ KeyId, TagKeys: ['a'] }),
    ListResourceTags: (KeyId) => ({ KeyId }),
    ScheduleKeyDeletion: (KeyId) => ({ KeyId, PendingWindowInDays: 7 }),
    UpdateKeyDescription: (KeyId) => ({ KeyId, Description: 'x' }),
    ListAliases: (KeyId) => ({ KeyId }),
  };

  it.each(Object.keys(inputs))('%s refuses an alias name and an alias ARN: NotFoundException', async (op) => {
    const aliasArn = `arn:aws:kms:${REGION}:${ACCOUNT}:alias/fidelity`;
    for (const ref of ['alias/fidelity', aliasArn, 'alias/does-not-exist']) {
      expect(await raw(op, inputs[op]!(ref))).toEqual({
        status: 400,
        body: { __type: 'NotFoundException', message: `Invalid keyId ${ref}` },
      });
    }
    // The key itself, by id: still fine (and the key is left enabled for the next case).
    if (op === 'CancelKeyDeletion') await raw('ScheduleKeyDeletion', { KeyId: keyId, PendingWindowInDays: 7 });
    const answer = await raw(op, inputs[op]!(keyId));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    if (op === 'ScheduleKeyDeletion') expect((await raw('CancelKeyDeletion', { KeyId: keyId })).status).toBe(200);
    expect((await raw('EnableKey', { KeyId: keyId })).status).toBe(200);
  });

  it('keeps aliases where AWS takes them (DescribeKey, Encrypt, GenerateMac)', async () => {
    expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/fidelity' }))).KeyMetadata?.KeyId).toBe(keyId);
    expect((await raw('Encrypt', { KeyId: 'alias/fidelity', Plaintext: 'aGk=' })).status).toBe(200);
  });
});

describe('failed verifications', () => {
  it('answer KMSInvalidSignatureException and KMSInvalidMacException without a message', async () => {
    const sign = await raw('CreateKey', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const signing = (sign.body as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    const signed = await raw('Sign', { KeyId: signing, Message: 'aGk=', SigningAlgorithm: 'ECDSA_SHA_256' });
    const { Signature } = signed.body as { Signature: string };
    expect(
      await raw('Verify', { KeyId: signing, Message: 'aG8=', Signature, SigningAlgorithm: 'ECDSA_SHA_256' }),
    ).toEqual({ status: 400, body: { __type: 'KMSInvalidSignatureException' } });

    const mac = await raw('CreateKey', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const macKey = (mac.body as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    const bad = Buffer.alloc(32).toString('base64');
    expect(await raw('VerifyMac', { KeyId: macKey, Message: 'aGk=', MacAlgorithm: 'HMAC_SHA_256', Mac: bad })).toEqual({
      status: 400,
      body: { __type: 'KMSInvalidMacException' },
    });
  });
});

describe('the key policy lockout safety check', () => {
  it('refuses the admin a policy that would not let the account root change it again, unless bypassed', async () => {
    const roleOnly = only(roleArn(KEYADMIN), ['kms:*']);
    expect(await failure(kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: roleOnly })))).toMatchObject({
      ...LOCKOUT,
      status: 400,
    });
    expect(await failure(kms.send(new CreateKeyCommand({ Policy: roleOnly })))).toMatchObject(LOCKOUT);
    // A Deny of PutKeyPolicy beside the root's Allow locks it out too.
    const denied = JSON.stringify(
      policyOf([rootStatement, { Effect: 'Deny', Principal: '*', Action: 'kms:PutKeyPolicy', Resource: '*' }]),
    );
    expect(await failure(kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: denied })))).toMatchObject(LOCKOUT);
    // The policy in force is unchanged; the account root (or the account id) is fine.
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy).not.toBe(roleOnly);
    await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: only(ACCOUNT, ['kms:PutKeyPolicy']) }));
    const created = await kms.send(new CreateKeyCommand({ Policy: roleOnly, BypassPolicyLockoutSafetyCheck: true }));
    expect(created.KeyMetadata?.KeyId).toBeDefined();
    await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: roleOnly, BypassPolicyLockoutSafetyCheck: true }));
    await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify(policyOf([rootStatement])) }));
  });

  it('evaluates the new policy for a role caller with its own policy', async () => {
    const put = async (Policy: string, bypass?: boolean) =>
      bearerCall(world.server.url, token, 'TrentService.PutKeyPolicy', {
        KeyId: keyId,
        Policy,
        ...(bypass && { BypassPolicyLockoutSafetyCheck: true }),
      });
    // Only another role may change it afterwards: refused with AWS's text.
    const refused = await put(only(roleArn('someone-else'), ['kms:*']));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ __type: LOCKOUT.name, message: LOCKOUT.message });
    // The caller's role named, or the account delegating to IAM (the role's policy allows kms:*): fine.
    expect((await put(only(roleArn(KEYADMIN), ['kms:PutKeyPolicy']))).status).toBe(200);
    expect((await put(JSON.stringify(policyOf([rootStatement])))).status).toBe(200);
    // The role may lock itself out only knowingly; the admin puts the policy back.
    expect((await put(only(roleArn('someone-else'), ['kms:*']), true)).status).toBe(200);
    await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify(policyOf([rootStatement])) }));
  });
});
