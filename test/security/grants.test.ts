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
  RetireGrantCommand,
  RevokeGrantCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GrantServer, startGrantServer } from '../support/grant-roles.js';
import { failure } from '../support/sdk.js';

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
