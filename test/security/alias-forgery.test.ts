// Issue 14, finding 1: session forgery through aliases, reproduced end to end over HTTP with the AWS SDK v3.
//
// A role allowed CreateKey, GenerateMac and the alias operations on "*" pointed alias/keysafe/sessions at
// its own HMAC key, minted session tokens for another role (one with a future iat), and after a restart read
// that role's secrets; the forged tokens survived revoke-sessions. Now alias/keysafe/* and alias/aws/* are
// reserved, the session key is the one whose id the store records, and Keysafe's keys serve only the server.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  GenerateMacCommand,
  type KMSClient,
  ListAliasesCommand,
  PutKeyPolicyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { assumeRole, failure, kmsClient } from '../support/sdk.js';
import { startTestServer, type TestServer, tempDir } from '../support/server.js';
import { bearerCall, sessionToken } from '../support/session.js';
import { policyOf, trustConfig } from '../support/workload.js';

const OPS_VALUE = 'ops-root-password-7f3a9c';
const RESERVED = ['alias/keysafe/sessions', 'alias/keysafe/secretsmanager', 'alias/keysafe/terraform', 'alias/aws/x'];

let issuer: OidcIssuer;
let server: TestServer;
let dataDir: string;

function config() {
  return trustConfig(issuer.url, [
    {
      name: 'attacker',
      subjects: ['system:serviceaccount:shop:attacker'],
      policy: policyOf([
        {
          Effect: 'Allow',
          Action: [
            'kms:CreateKey',
            'kms:GenerateMac',
            'kms:CreateAlias',
            'kms:UpdateAlias',
            'kms:DeleteAlias',
            'kms:ListAliases',
          ],
          Resource: '*',
        },
      ]),
    },
    {
      name: 'ops',
      subjects: ['system:serviceaccount:ops:deployer'],
      policy: policyOf([
        {
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: 'arn:aws:secretsmanager:*:*:secret:ops/*',
        },
      ]),
    },
  ]);
}

const start = () => startTestServer({ dataDir, config: config() });

/** Closes the server keeping its data dir, and starts it again on it. */
async function restart(): Promise<void> {
  await server.close();
  server = await start();
}

async function attackerKms(): Promise<KMSClient> {
  const jwt = await issuer.kubernetesToken({ namespace: 'shop', serviceAccount: 'attacker' });
  const { credentials } = await assumeRole(server.url, 'attacker', 'attacker', jwt);
  return kmsClient(server, { credentials });
}

async function loginOps(): Promise<string> {
  const jwt = await issuer.kubernetesToken({ namespace: 'ops', serviceAccount: 'deployer' });
  return sessionToken(server.url, { role: 'ops', jwt });
}

/** GetSecretValue of the ops secret with a Bearer token: the status and the body (never the value). */
async function readOpsSecret(token: string): Promise<{ status: number; body: string }> {
  const res = await bearerCall(server.url, token, 'secretsmanager.GetSecretValue', { SecretId: 'ops/root-db' });
  return { status: res.status, body: await res.text() };
}

/** Session tokens for role ops, MAC'd by `kms` under `keyId`: one now, one dated ten years ahead. */
async function forgeOpsTokens(kms: KMSClient, keyId: string): Promise<string[]> {
  const now = Date.now();
  const tokens: string[] = [];
  for (const iat of [now, now + 10 * 365 * 86_400_000]) {
    const payload = { r: 'ops', s: 'forged', n: 'forged', c: {}, v: 'login', iat, exp: iat + 20 * 365 * 86_400_000 };
    const body = `ks1.${Buffer.from(JSON.stringify({ ...payload, j: String(iat) })).toString('base64url')}`;
    const { Mac } = await kms.send(
      new GenerateMacCommand({ KeyId: keyId, Message: Buffer.from(body), MacAlgorithm: 'HMAC_SHA_256' }),
    );
    tokens.push(`${body}.${Buffer.from(Mac!).toString('base64url')}`);
  }
  return tokens;
}

async function sessionAliasTarget(): Promise<string | undefined> {
  const { Aliases } = await server.kmsClient().send(new ListAliasesCommand({}));
  return Aliases?.find((a) => a.AliasName === 'alias/keysafe/sessions')?.TargetKeyId;
}

beforeAll(async () => {
  issuer = await startOidcIssuer();
  dataDir = tempDir();
  server = await start();
  await server.secretsClient().send(new CreateSecretCommand({ Name: 'ops/root-db', SecretString: OPS_VALUE }));
}, 60_000);

afterAll(async () => {
  await server?.close();
  await issuer?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('session forgery through aliases', () => {
  it('no role, nor the admin, re-points, deletes or creates an alias under alias/keysafe/ or alias/aws/', async () => {
    const attacker = await attackerKms();
    const { KeyMetadata } = await attacker.send(
      new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
    );
    const own = KeyMetadata!.KeyId!;
    const before = await sessionAliasTarget();
    expect(before).toBeDefined();
    for (const kms of [attacker, server.kmsClient()]) {
      for (const AliasName of RESERVED) {
        const update = await failure(kms.send(new UpdateAliasCommand({ AliasName, TargetKeyId: own })));
        expect(update.name, `${AliasName}: ${update.message}`).toBe('NotAuthorizedException');
        const del = await failure(kms.send(new DeleteAliasCommand({ AliasName })));
        expect(del.name, `${AliasName}: ${del.message}`).toBe('NotAuthorizedException');
      }
      for (const AliasName of ['alias/keysafe/mine', 'alias/aws/mine']) {
        const create = await failure(kms.send(new CreateAliasCommand({ AliasName, TargetKeyId: own })));
        expect(create.name).toBe('NotAuthorizedException');
      }
    }
    expect(await sessionAliasTarget()).toBe(before);
  });

  it('a token MACed with a role’s own HMAC key is refused, before and after a restart and revoke-sessions', async () => {
    const attacker = await attackerKms();
    const { KeyMetadata } = await attacker.send(
      new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
    );
    const forged = await forgeOpsTokens(attacker, KeyMetadata!.KeyId!);
    await attacker
      .send(new UpdateAliasCommand({ AliasName: 'alias/keysafe/sessions', TargetKeyId: KeyMetadata!.KeyId! }))
      .catch(() => {});
    const refusedEverywhere = async () => {
      for (const token of forged) {
        const read = await readOpsSecret(token);
        expect(read.body).not.toContain(OPS_VALUE);
        expect(read.status).toBe(400);
        expect(read.body).toContain('UnrecognizedClientException');
      }
    };
    await refusedEverywhere();
    await restart();
    await refusedEverywhere();
    // A genuine session works after the restart, and revoke-sessions ends it, the forged ones staying refused.
    const genuine = await loginOps();
    expect((await readOpsSecret(genuine)).body).toContain(OPS_VALUE);
    const revoke = await fetch(`${server.url}/v1/admin/roles/ops/revoke-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.admin.token}` },
    });
    expect(revoke.status).toBe(200);
    expect((await readOpsSecret(genuine)).status).toBe(400);
    await refusedEverywhere();
  }, 60_000);

  it('the session key cannot be used, re-keyed, deleted, tagged or rotated through the API, by a role or the admin', async () => {
    const attacker = await attackerKms();
    const role = await failure(
      attacker.send(
        new GenerateMacCommand({
          KeyId: 'alias/keysafe/sessions',
          Message: Buffer.from('x'),
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      ),
    );
    expect(role.name).toBe('AccessDeniedException');
    const admin = server.kmsClient();
    // The management operations take only a key id or key ARN (an alias is NotFoundException there, as on AWS).
    const KeyId = (await sessionAliasTarget())!;
    const allowAll = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }],
    });
    for (const call of [
      admin.send(
        new GenerateMacCommand({
          KeyId: 'alias/keysafe/sessions',
          Message: Buffer.from('x'),
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      ),
      admin.send(new PutKeyPolicyCommand({ KeyId, PolicyName: 'default', Policy: allowAll })),
      admin.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: 7 })),
      admin.send(new TagResourceCommand({ KeyId, Tags: [{ TagKey: 'a', TagValue: 'b' }] })),
      admin.send(new RotateKeyOnDemandCommand({ KeyId })),
    ]) {
      expect((await failure(call)).name).toBe('NotAuthorizedException');
    }
    const byAlias = await failure(admin.send(new RotateKeyOnDemandCommand({ KeyId: 'alias/keysafe/secretsmanager' })));
    expect(byAlias).toMatchObject({ name: 'NotFoundException', message: 'Invalid keyId alias/keysafe/secretsmanager' });
  });
});

describe('a store from before the session key id was recorded', () => {
  it("does not adopt a tenant's key behind alias/keysafe/sessions: a fresh key is made and logged", async () => {
    const attacker = await attackerKms();
    const { KeyMetadata } = await attacker.send(
      new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
    );
    const tenantKey = KeyMetadata!.KeyId!;
    const forged = await forgeOpsTokens(attacker, tenantKey);
    await server.close();
    // What an old store attacked through UpdateAlias looks like: no recorded ids, the alias on the tenant's key.
    const db = new Database(join(dataDir, 'keysafe.db'));
    try {
      db.prepare('DELETE FROM kms_internal_keys').run();
      db.prepare("UPDATE kms_aliases SET key_id = ? WHERE name = 'alias/keysafe/sessions'").run(tenantKey);
    } finally {
      db.close();
    }
    server = await start();
    expect(server.logs.some((l) => l.includes('Keysafe did not make for itself') && l.includes(tenantKey))).toBe(true);
    expect(server.logs.some((l) => l.includes('created an internal key') && l.includes('sessions'))).toBe(true);
    const target = await sessionAliasTarget();
    expect(target).not.toBe(tenantKey);
    for (const token of forged) expect((await readOpsSecret(token)).body).not.toContain(OPS_VALUE);
    expect((await readOpsSecret(await loginOps())).body).toContain(OPS_VALUE);
  }, 60_000);
});
