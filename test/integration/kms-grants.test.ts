// Grants through the real server with the AWS SDK v3: a grantee role with no policy permission uses a key
// only through its grant, only under the constrained encryption context, and not after RetireGrant or
// RevokeGrant; an explicit deny still wins; lists page; Name makes CreateGrant idempotent; grant tokens.
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  type KMSClient,
  ListGrantsCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GrantServer, startGrantServer } from '../support/grant-roles.js';
import { failure } from '../support/sdk.js';

let s: GrantServer;
let app: KMSClient;
let ops: KMSClient;

beforeAll(async () => {
  s = await startGrantServer(['app', 'ops']);
  [app, ops] = [await s.as('app'), await s.as('ops')];
}, 60_000);
afterAll(async () => s?.ws.stop());

async function newKey(): Promise<string> {
  return (await s.admin.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
}

async function sealed(KeyId: string, EncryptionContext: Record<string, string>): Promise<Uint8Array> {
  const out = await s.admin.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('hello'), EncryptionContext }));
  return out.CiphertextBlob!;
}

const decrypt = (client: KMSClient, CiphertextBlob: Uint8Array, EncryptionContext: Record<string, string>) =>
  client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext }));
const refusedName = async (p: Promise<unknown>) => (await failure(p)).name;

describe('a grantee role without policy permission', () => {
  it('decrypts only through its grant, only with the constrained context, until the grant is retired', async () => {
    const key = await newKey();
    const [a, b] = [await sealed(key, { tenant: 'a' }), await sealed(key, { tenant: 'b' })];
    expect(await refusedName(decrypt(app, a, { tenant: 'a' }))).toBe('AccessDeniedException');

    const grant = await s.admin.send(
      new CreateGrantCommand({
        KeyId: key,
        GranteePrincipal: s.arn('app'),
        RetiringPrincipal: s.arn('ops'),
        Operations: ['Decrypt'],
        Constraints: { EncryptionContextEquals: { tenant: 'a' } },
      }),
    );
    expect(grant.GrantId).toMatch(/^[0-9a-f]{64}$/);
    // Effective at once, with or without the token.
    const plain = await decrypt(app, a, { tenant: 'a' });
    expect(Buffer.from(plain.Plaintext!).toString()).toBe('hello');
    await app.send(
      new DecryptCommand({ CiphertextBlob: a, EncryptionContext: { tenant: 'a' }, GrantTokens: [grant.GrantToken!] }),
    );
    expect(await refusedName(decrypt(app, b, { tenant: 'b' }))).toBe('AccessDeniedException');
    expect(
      await refusedName(
        app.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x'), EncryptionContext: { tenant: 'a' } })),
      ),
    ).toBe('AccessDeniedException');
    expect(await refusedName(app.send(new DescribeKeyCommand({ KeyId: key })))).toBe('AccessDeniedException');

    await ops.send(new RetireGrantCommand({ GrantToken: grant.GrantToken }));
    expect(await refusedName(decrypt(app, a, { tenant: 'a' }))).toBe('AccessDeniedException');
    expect((await s.admin.send(new ListGrantsCommand({ KeyId: key }))).Grants).toEqual([]);
  });

  it('loses a Subset grant when it is revoked; an explicit deny in the key policy beats any grant', async () => {
    const key = await newKey();
    const blob = await sealed(key, { tenant: 'a', request: '7' });
    const { GrantId } = await s.admin.send(
      new CreateGrantCommand({
        KeyId: key,
        GranteePrincipal: s.arn('app'),
        Operations: ['Decrypt', 'DescribeKey'],
        Constraints: { EncryptionContextSubset: { tenant: 'a' } },
      }),
    );
    await decrypt(app, blob, { tenant: 'a', request: '7' });
    expect((await app.send(new DescribeKeyCommand({ KeyId: key }))).KeyMetadata!.Arn).toBe(key);

    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: s.arn('app') }, Action: 'kms:Decrypt', Resource: '*' },
      ],
    };
    await s.admin.send(new PutKeyPolicyCommand({ KeyId: key, PolicyName: 'default', Policy: JSON.stringify(policy) }));
    const denied = await failure(decrypt(app, blob, { tenant: 'a', request: '7' }));
    expect(denied.message).toContain('explicit deny');
    expect((await app.send(new DescribeKeyCommand({ KeyId: key }))).KeyMetadata!.Arn).toBe(key);

    await s.admin.send(new RevokeGrantCommand({ KeyId: key, GrantId }));
    expect(await refusedName(app.send(new DescribeKeyCommand({ KeyId: key })))).toBe('AccessDeniedException');
  });
});

describe('grant operations', () => {
  it('ListGrants and ListRetirableGrants page with Limit and Marker; filters by grantee and grant id', async () => {
    const key = await newKey();
    const made: string[] = [];
    for (let n = 0; n < 5; n++) {
      const grantee = s.arn(n < 2 ? 'app' : 'ops');
      const g = await s.admin.send(
        new CreateGrantCommand({
          KeyId: key,
          GranteePrincipal: grantee,
          RetiringPrincipal: s.arn('ops'),
          Operations: ['Encrypt'],
        }),
      );
      made.push(g.GrantId!);
    }
    const seen: string[] = [];
    let Marker: string | undefined;
    let pages = 0;
    do {
      const page = await s.admin.send(new ListGrantsCommand({ KeyId: key, Limit: 2, ...(Marker && { Marker }) }));
      pages++;
      for (const g of page.Grants!) {
        expect(g).toMatchObject({
          KeyId: key,
          IssuingAccount: 'arn:aws:iam::000000000000:root',
          Operations: ['Encrypt'],
        });
        expect(g.CreationDate).toBeInstanceOf(Date);
        seen.push(g.GrantId!);
      }
      expect(page.Truncated).toBe(page.NextMarker !== undefined);
      Marker = page.NextMarker;
    } while (Marker);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([...made].sort());
    const mine = await s.admin.send(new ListGrantsCommand({ KeyId: key, GranteePrincipal: s.arn('app') }));
    expect(mine.Grants).toHaveLength(2);
    const one = await s.admin.send(new ListGrantsCommand({ KeyId: key, GrantId: made[3] }));
    expect(one.Grants!.map((g) => g.GrantId)).toEqual([made[3]]);
    expect(await refusedName(s.admin.send(new ListGrantsCommand({ KeyId: key, GrantId: 'x' })))).toBe(
      'InvalidGrantIdException',
    );

    // The retiring principal lists what it may retire (no DescribeKey on the keys needed), page by page.
    const first = await ops.send(new ListRetirableGrantsCommand({ RetiringPrincipal: s.arn('ops'), Limit: 3 }));
    expect(first.Grants).toHaveLength(3);
    const rest = await ops.send(
      new ListRetirableGrantsCommand({ RetiringPrincipal: s.arn('ops'), Marker: first.NextMarker! }),
    );
    expect([...first.Grants!, ...rest.Grants!].map((g) => g.GrantId).sort()).toEqual([...made].sort());
    // Another tenant sees none of them: it may not describe the key.
    const others = await app.send(new ListRetirableGrantsCommand({ RetiringPrincipal: s.arn('ops') }));
    expect(others.Grants).toEqual([]);
  });

  it('a Name makes CreateGrant idempotent for the same parameters', async () => {
    const key = await newKey();
    const ask = { KeyId: key, GranteePrincipal: s.arn('app'), Operations: ['Decrypt' as const], Name: 'ci/retry-1' };
    const first = await s.admin.send(new CreateGrantCommand(ask));
    const again = await s.admin.send(new CreateGrantCommand(ask));
    expect(again.GrantId).toBe(first.GrantId);
    expect(again.GrantToken).not.toBe(first.GrantToken);
    const listed = await s.admin.send(new ListGrantsCommand({ KeyId: key }));
    expect(listed.Grants!.map((g) => [g.GrantId, g.Name])).toEqual([[first.GrantId, 'ci/retry-1']]);
  });

  it("answers AWS's refusals: malformed grant tokens, operations the key cannot do, DryRun", async () => {
    const key = await newKey();
    const bad = await failure(
      s.admin.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x'), GrantTokens: ['not-a-token'] })),
    );
    expect(bad.name).toBe('InvalidGrantTokenException');
    expect(await refusedName(s.admin.send(new RetireGrantCommand({ GrantToken: 'garbage' })))).toBe(
      'InvalidGrantTokenException',
    );
    const sign = await failure(
      s.admin.send(new CreateGrantCommand({ KeyId: key, GranteePrincipal: s.arn('app'), Operations: ['Sign'] })),
    );
    expect(sign.name).toBe('ValidationException');
    const dry = await failure(
      s.admin.send(
        new CreateGrantCommand({ KeyId: key, GranteePrincipal: s.arn('app'), Operations: ['Decrypt'], DryRun: true }),
      ),
    );
    expect(dry.name).toBe('DryRunOperationException');
    expect((await s.admin.send(new ListGrantsCommand({ KeyId: key }))).Grants).toEqual([]);
    const missing = '0'.repeat(64);
    expect(await refusedName(s.admin.send(new RevokeGrantCommand({ KeyId: key, GrantId: missing })))).toBe(
      'NotFoundException',
    );
  });
});
