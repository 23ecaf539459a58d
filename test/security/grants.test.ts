// Grants cannot be widened: a grantee creates grants only with CreateGrant in its grant, only with a subset
// of its operations under an equally strict constraint; it cannot revoke or list grants, retire another's
// grant, or use a grant on another key.
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  type GrantOperation,
  type KMSClient,
  ListGrantsCommand,
  ListRetirableGrantsCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GrantServer, startGrantServer } from '../support/grant-roles.js';
import { failure } from '../support/sdk.js';
import { postRaw, signJsonRequest } from '../support/sigv4.js';

let s: GrantServer;
let app: KMSClient;
let key: string;

beforeAll(async () => {
  s = await startGrantServer(['app', 'ops']);
  app = await s.as('app');
  key = (await s.admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
}, 60_000);
afterAll(async () => s?.ws.stop());

const grantTo = (client: KMSClient, role: string, Operations: GrantOperation[], Constraints?: object, KeyId = key) =>
  client.send(
    new CreateGrantCommand({ KeyId, GranteePrincipal: s.arn(role), Operations, ...(Constraints && { Constraints }) }),
  );
const denied = async (p: Promise<unknown>) => expect((await failure(p)).name).toBe('AccessDeniedException');
const grantCount = async () => (await s.admin.send(new ListGrantsCommand({ KeyId: key }))).Grants!.length;

describe('a grantee', () => {
  it('without CreateGrant in its grant cannot create grants, for itself or anyone', async () => {
    await grantTo(s.admin, 'app', ['Decrypt', 'Encrypt']);
    const before = await grantCount();
    await denied(grantTo(app, 'app', ['Decrypt']));
    await denied(grantTo(app, 'app', ['Decrypt', 'Encrypt', 'CreateGrant']));
    await denied(grantTo(app, 'ops', ['Decrypt']));
    expect(await grantCount()).toBe(before);
  });

  it('with CreateGrant creates only narrower grants: no new operation, no looser constraint', async () => {
    const subset = { EncryptionContextSubset: { tenant: 'a' } };
    await grantTo(s.admin, 'app', ['CreateGrant', 'Decrypt'], subset);
    const before = await grantCount();
    await denied(grantTo(app, 'app', ['Decrypt', 'Encrypt'], subset));
    await denied(grantTo(app, 'ops', ['Decrypt']));
    await denied(grantTo(app, 'ops', ['Decrypt'], { EncryptionContextSubset: { other: 'b' } }));
    await denied(grantTo(app, 'ops', ['Decrypt', 'RetireGrant'], subset));
    expect(await grantCount()).toBe(before);
    // Narrower is allowed: the new grantee decrypts under the stricter context only.
    await grantTo(app, 'ops', ['Decrypt'], { EncryptionContextEquals: { tenant: 'a', team: 'x' } });
    expect(await grantCount()).toBe(before + 1);
    const ops = await s.as('ops');
    const blob = await s.admin.send(
      new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('p'), EncryptionContext: { tenant: 'a', team: 'x' } }),
    );
    await ops.send(
      new DecryptCommand({ CiphertextBlob: blob.CiphertextBlob!, EncryptionContext: { tenant: 'a', team: 'x' } }),
    );
  });

  it('cannot revoke or list grants, retire a grant that does not let it, or use its grant on another key', async () => {
    const other = (await s.admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const mine = await grantTo(s.admin, 'app', ['Decrypt', 'Encrypt']);
    const theirs = await grantTo(s.admin, 'ops', ['Decrypt']);
    await denied(app.send(new RevokeGrantCommand({ KeyId: key, GrantId: theirs.GrantId })));
    await denied(app.send(new RevokeGrantCommand({ KeyId: key, GrantId: mine.GrantId })));
    await denied(app.send(new ListGrantsCommand({ KeyId: key })));
    await denied(app.send(new RetireGrantCommand({ GrantToken: theirs.GrantToken })));
    await denied(app.send(new RetireGrantCommand({ KeyId: key, GrantId: mine.GrantId })));
    await denied(app.send(new EncryptCommand({ KeyId: other, Plaintext: Buffer.from('x') })));
    // Its own grant, once it lists RetireGrant, it may retire.
    const retirable = await grantTo(s.admin, 'app', ['Decrypt', 'RetireGrant']);
    await app.send(new RetireGrantCommand({ KeyId: key, GrantId: retirable.GrantId }));
    const left = (await s.admin.send(new ListGrantsCommand({ KeyId: key }))).Grants!.map((g) => g.GrantId);
    expect(left).toContain(mine.GrantId);
    expect(left).toContain(theirs.GrantId);
    expect(left).not.toContain(retirable.GrantId);
  });
});

/** A KMS call by `client`'s credentials with the JSON body exactly as written: its status and error type. */
async function rawKms(client: KMSClient, op: string, body: string) {
  const url = s.ws.server.url;
  const headers = await signJsonRequest(url, await client.config.credentials(), `TrentService.${op}`, body);
  const { status, text } = await postRaw(url, headers, body);
  const json = JSON.parse(text) as { __type?: string; CiphertextBlob?: string };
  return { status, type: json.__type, blob: json.CiphertextBlob };
}

describe('an encryption context constraint', () => {
  it('Equals does not let a context with an extra "__proto__" pair through (it used to be dropped before the check)', async () => {
    const fresh = (await s.admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    await grantTo(s.admin, 'app', ['Encrypt', 'Decrypt'], { EncryptionContextEquals: { tenant: 'a' } }, fresh);
    const ok = await rawKms(
      app,
      'Encrypt',
      `{"KeyId":"${fresh}","Plaintext":"cA==","EncryptionContext":{"tenant":"a"}}`,
    );
    expect(ok.status).toBe(200);
    // Raw JSON text: a JS object literal would set the prototype instead of a member.
    const extra = '{"tenant":"a","__proto__":"x"}';
    const widened = await rawKms(
      app,
      'Encrypt',
      `{"KeyId":"${fresh}","Plaintext":"cA==","EncryptionContext":${extra}}`,
    );
    expect({ status: widened.status, type: widened.type }).toEqual({ status: 400, type: 'AccessDeniedException' });
    // A ciphertext bound to that context (by a caller the policy allows) stays closed to the grantee.
    const sealed = await rawKms(
      s.admin,
      'Encrypt',
      `{"KeyId":"${fresh}","Plaintext":"cA==","EncryptionContext":${extra}}`,
    );
    expect(sealed.status).toBe(200);
    const open = await rawKms(app, 'Decrypt', `{"CiphertextBlob":"${sealed.blob}","EncryptionContext":${extra}}`);
    expect({ status: open.status, type: open.type }).toEqual({ status: 400, type: 'AccessDeniedException' });
  });
});

describe('ListRetirableGrants', () => {
  it("shows another principal's grants only on keys whose grants the caller may list, not merely describe", async () => {
    const policy = (action: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: s.arn('ops') }, Action: action, Resource: '*' },
        ],
      });
    const keyWith = async (action: string) =>
      (await s.admin.send(new CreateKeyCommand({ Policy: policy(action) }))).KeyMetadata!.Arn!;
    const [describable, listable] = [await keyWith('kms:DescribeKey'), await keyWith('kms:ListGrants')];
    const RetiringPrincipal = s.arn('retirer');
    const constraint = { EncryptionContextEquals: { tenant: 'secret-tenant' } };
    for (const KeyId of [describable, listable]) {
      await s.admin.send(
        new CreateGrantCommand({
          KeyId,
          GranteePrincipal: s.arn('app'),
          RetiringPrincipal,
          Operations: ['Decrypt'],
          Constraints: constraint,
        }),
      );
    }
    const ops = await s.as('ops');
    const shown = (await ops.send(new ListRetirableGrantsCommand({ RetiringPrincipal }))).Grants!;
    expect(shown.map((g) => g.KeyId)).toEqual([listable]);
    const all = (await s.admin.send(new ListRetirableGrantsCommand({ RetiringPrincipal }))).Grants!;
    expect(all.map((g) => g.KeyId).sort()).toEqual([describable, listable].sort());
  });
});
