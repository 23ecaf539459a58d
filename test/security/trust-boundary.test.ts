// Regression tests for the review's cross-tenant findings that the request pipeline closes: two
// tenant roles on one real server, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretsOperations } from '../../src/secrets/api.js';
import { startWorkloadServer, type WorkloadServer } from '../support/workload.js';

let ws: WorkloadServer;
const tokens = {} as Record<'alice' | 'bob', string>;
let aliceKey = { id: '', arn: '' };
let bobKey = { id: '', arn: '' };

async function http(method: string, path: string, token: string | undefined, body?: unknown, headers = {}) {
  const res = await fetch(`${ws.server.url}${path}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
const call = (target: string, input: unknown, token: string | undefined) =>
  http('POST', '/', token, input, { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' });
async function ok(target: string, input: unknown, token: string): Promise<Record<string, unknown>> {
  const a = await call(target, input, token);
  expect(a.status, `${target}: ${a.text}`).toBe(200);
  return a.json;
}

/** A tenant: everything under its own prefix, the KMS operations on keys, no more. */
const tenantPolicy = (team: string) => ({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'secretsmanager:*', Resource: `arn:aws:secretsmanager:*:*:secret:${team}/*` },
    { Effect: 'Allow', Action: ['secretsmanager:ListSecrets', 'secretsmanager:BatchGetSecretValue'], Resource: '*' },
    {
      Effect: 'Allow',
      Action: [
        'kms:CreateKey',
        'kms:CreateAlias',
        'kms:UpdateAlias',
        'kms:DeleteAlias',
        'kms:ListKeys',
        'kms:ListAliases',
      ],
      Resource: '*',
    },
  ],
});

beforeAll(async () => {
  ws = await startWorkloadServer();
  const admin = ws.server.admin.token;
  for (const team of ['alice', 'bob'] as const) {
    const put = await http('PUT', `/v1/admin/roles/${team}`, admin, {
      issuer: 'cluster',
      subjects: [`system:serviceaccount:${team}:app`],
      policy: tenantPolicy(team),
    });
    expect(put.status, put.text).toBe(200);
    const jwt = await ws.issuer.kubernetesToken({ namespace: team, serviceAccount: 'app' });
    tokens[team] = (await http('POST', '/v1/auth/login', undefined, { role: team, jwt })).json.token as string;
  }
  // Each tenant's own key: its key policy names only that tenant's role (no account delegation).
  const ownKey = async (team: 'alice' | 'bob') => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::000000000000:role/${team}` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });
    const meta = (await ok('TrentService.CreateKey', { Policy: policy }, tokens[team])).KeyMetadata as {
      KeyId: string;
      Arn: string;
    };
    return { id: meta.KeyId, arn: meta.Arn };
  };
  aliceKey = await ownKey('alice');
  bobKey = await ownKey('bob');
  await ok('TrentService.CreateAlias', { AliasName: 'alias/bob-app', TargetKeyId: bobKey.id }, tokens.bob);
  await ok(
    'secretsmanager.CreateSecret',
    { Name: 'bob/db', SecretString: 'bob-secret', Description: 'prod db' },
    tokens.bob,
  );
  await ok(
    'secretsmanager.CreateSecret',
    { Name: 'bob/sealed', SecretString: 'bob-sealed', KmsKeyId: bobKey.id },
    tokens.bob,
  );
}, 60_000);

afterAll(async () => {
  await ws?.stop();
});

describe('aliases', () => {
  it("UpdateAlias needs the permission on the key the alias points at now: alice cannot take bob's alias", async () => {
    const a = await call(
      'TrentService.UpdateAlias',
      { AliasName: 'alias/bob-app', TargetKeyId: aliceKey.id },
      tokens.alice,
    );
    expect(a.json.__type).toBe('AccessDeniedException');
    expect(a.json.message).toContain(bobKey.arn);
    const b = await call('TrentService.DescribeKey', { KeyId: 'alias/bob-app' }, ws.server.admin.token);
    expect((b.json.KeyMetadata as { KeyId: string }).KeyId).toBe(bobKey.id);
  });

  it("DeleteAlias needs the permission on its key: alice cannot delete bob's alias", async () => {
    const a = await call('TrentService.DeleteAlias', { AliasName: 'alias/bob-app' }, tokens.alice);
    expect(a.json.__type).toBe('AccessDeniedException');
    const b = await call('TrentService.DescribeKey', { KeyId: 'alias/bob-app' }, ws.server.admin.token);
    expect(b.status).toBe(200);
  });
});

describe('secrets under a customer-managed key', () => {
  it('CreateSecret under a key whose policy names another principal is refused', async () => {
    const a = await call(
      'secretsmanager.CreateSecret',
      { Name: 'alice/stolen-key', SecretString: 'x', KmsKeyId: bobKey.id },
      tokens.alice,
    );
    expect(a.json.__type).toBe('AccessDeniedException');
    expect(a.json.message).toContain(`kms:GenerateDataKey on resource: ${bobKey.arn}`);
    const listed = await call('secretsmanager.DescribeSecret', { SecretId: 'alice/stolen-key' }, ws.server.admin.token);
    expect(listed.json.__type).toBe('ResourceNotFoundException');
  });

  it('UpdateSecret to such a key is refused and changes nothing', async () => {
    await ok('secretsmanager.CreateSecret', { Name: 'alice/app', SecretString: 'a' }, tokens.alice);
    const a = await call('secretsmanager.UpdateSecret', { SecretId: 'alice/app', KmsKeyId: bobKey.id }, tokens.alice);
    expect(a.json.__type).toBe('AccessDeniedException');
    const d = await ok('secretsmanager.DescribeSecret', { SecretId: 'alice/app' }, ws.server.admin.token);
    expect(d.KmsKeyId).toBeUndefined();
  });

  it('reading a secret needs kms:Decrypt on its customer-managed key, as on AWS', async () => {
    // A resource policy lets alice read bob/sealed, but bob's key does not let her decrypt.
    await ok(
      'secretsmanager.PutResourcePolicy',
      {
        SecretId: 'bob/sealed',
        ResourcePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::000000000000:role/alice' },
              Action: 'secretsmanager:GetSecretValue',
              Resource: '*',
            },
          ],
        }),
      },
      tokens.bob,
    );
    const a = await call('secretsmanager.GetSecretValue', { SecretId: 'bob/sealed' }, tokens.alice);
    expect(a.json.__type).toBe('AccessDeniedException');
    expect(a.json.message).toContain(`kms:Decrypt on resource: ${bobKey.arn}`);
    expect(a.text).not.toContain('bob-sealed');
    const own = await ok('secretsmanager.GetSecretValue', { SecretId: 'bob/sealed' }, tokens.bob);
    expect(own.SecretString).toBe('bob-sealed');
  });
});

describe('refusals and lists tell nothing about what other tenants hold', () => {
  it('a refusal names what the request named: the same for a secret that exists and one that does not', async () => {
    const exists = await call('secretsmanager.GetSecretValue', { SecretId: 'bob/db' }, tokens.alice);
    const missing = await call('secretsmanager.GetSecretValue', { SecretId: 'bob/nothing' }, tokens.alice);
    expect(exists.json.__type).toBe('AccessDeniedException');
    expect(missing.json.__type).toBe('AccessDeniedException');
    expect(exists.json.message).toMatch(
      /on resource: arn:aws:secretsmanager:us-east-1:000000000000:secret:bob\/db because/,
    );
    expect(missing.json.message).toMatch(
      /on resource: arn:aws:secretsmanager:us-east-1:000000000000:secret:bob\/nothing because/,
    );
  });

  it('a refusal on an alias names the alias, never the key behind it', async () => {
    const exists = await call('TrentService.DescribeKey', { KeyId: 'alias/bob-app' }, tokens.alice);
    const missing = await call('TrentService.DescribeKey', { KeyId: 'alias/bob-nothing' }, tokens.alice);
    expect(exists.json.__type).toBe('AccessDeniedException');
    expect(exists.text).not.toContain(bobKey.id);
    expect(exists.json.message).toContain('on resource: arn:aws:kms:us-east-1:000000000000:alias/bob-app because');
    expect(missing.json.message).toContain('on resource: arn:aws:kms:us-east-1:000000000000:alias/bob-nothing because');
  });

  it('ListSecrets, ListKeys and ListAliases show a tenant only what it may describe', async () => {
    const secrets = await ok(
      'secretsmanager.ListSecrets',
      { Filters: [{ Key: 'name', Values: ['bob/'] }] },
      tokens.alice,
    );
    expect(secrets.SecretList).toEqual([]);
    const own = await ok('secretsmanager.ListSecrets', {}, tokens.alice);
    expect(JSON.stringify(own)).not.toContain('bob/');
    const keys = (await ok('TrentService.ListKeys', {}, tokens.alice)).Keys as { KeyId: string }[];
    expect(keys.map((k) => k.KeyId)).toContain(aliceKey.id);
    expect(keys.map((k) => k.KeyId)).not.toContain(bobKey.id);
    const aliases = await ok('TrentService.ListAliases', {}, tokens.alice);
    expect(JSON.stringify(aliases)).not.toContain('bob-app');
    expect(JSON.stringify(aliases)).not.toContain('alias/keysafe/');
    const all = await ok('TrentService.ListAliases', {}, ws.server.admin.token);
    expect(JSON.stringify(all)).toContain('alias/bob-app');
  });
});

describe('watch streams', () => {
  it('a workload session holds at most 4 at once', async () => {
    const { exportJWK, generateKeyPair } = await import('jose');
    const { publicKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
    const jwt = await ws.issuer.kubernetesToken({ namespace: 'alice', serviceAccount: 'app' });
    const login = await http('POST', '/v1/auth/login', undefined, {
      role: 'alice',
      jwt,
      publicKey: await exportJWK(publicKey),
    });
    const token = login.json.token as string;
    const controllers: AbortController[] = [];
    const open = async () => {
      const controller = new AbortController();
      controllers.push(controller);
      const res = await fetch(`${ws.server.url}/v1/watch?cursor=0`, {
        headers: { authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
      return res.status;
    };
    try {
      for (let i = 0; i < 4; i++) expect(await open()).toBe(200);
      expect(await open()).toBe(429);
    } finally {
      for (const c of controllers) c.abort();
    }
  });
});

describe("Keysafe's own keys", () => {
  it("are never named as a secret's KmsKeyId, by the admin either, and describe themselves as AWS-managed", async () => {
    const admin = ws.server.admin.token;
    for (const alias of ['alias/keysafe/secretsmanager', 'alias/keysafe/sessions']) {
      const a = await call(
        'secretsmanager.CreateSecret',
        { Name: 'ops/on-internal', SecretString: 'x', KmsKeyId: alias },
        admin,
      );
      expect(a.json.__type, a.text).toBe('InvalidParameterException');
      const d = await ok('TrentService.DescribeKey', { KeyId: alias }, admin);
      expect((d.KeyMetadata as { KeyManager: string }).KeyManager).toBe('AWS');
    }
    const gone = await call('secretsmanager.DescribeSecret', { SecretId: 'ops/on-internal' }, admin);
    expect(gone.json.__type).toBe('ResourceNotFoundException');
    const own = await ok('TrentService.DescribeKey', { KeyId: aliceKey.id }, admin);
    expect((own.KeyMetadata as { KeyManager: string }).KeyManager).toBe('CUSTOMER');
  });
});

describe('BatchGetSecretValue with Filters', () => {
  it('needs ListSecrets', async () => {
    const put = await http('PUT', '/v1/admin/roles/carol', ws.server.admin.token, {
      issuer: 'cluster',
      subjects: ['system:serviceaccount:carol:app'],
      policy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'secretsmanager:BatchGetSecretValue', Resource: '*' }],
      },
    });
    expect(put.status, put.text).toBe(200);
    const jwt = await ws.issuer.kubernetesToken({ namespace: 'carol', serviceAccount: 'app' });
    const carol = (await http('POST', '/v1/auth/login', undefined, { role: 'carol', jwt })).json.token as string;
    const a = await call('secretsmanager.BatchGetSecretValue', { Filters: [{ Key: 'name', Values: ['bob/'] }] }, carol);
    expect(a.json.__type).toBe('AccessDeniedException');
    expect(a.json.message).toContain('secretsmanager:ListSecrets');
  });

  it("never names a secret it refused: a description filter is no oracle on other teams' secrets", async () => {
    for (const prefix of ['prod', 'p', 'nothing-like-it']) {
      const a = await ok(
        'secretsmanager.BatchGetSecretValue',
        { Filters: [{ Key: 'description', Values: [prefix] }] },
        tokens.alice,
      );
      expect(a.Errors).toEqual([]);
      expect(a.SecretValues).toEqual([]);
      expect(JSON.stringify(a)).not.toContain('bob/');
    }
  });
});

describe('unauthenticated input stays out of metrics and the audit trail', () => {
  it('/metrics stays valid and bounded under 10,000 requests with random targets from unauthenticated clients', async () => {
    // Printable ASCII (what a header may carry), quotes and backslashes included.
    const random = () =>
      `${Array.from({ length: 40 }, () => String.fromCharCode(32 + Math.floor(Math.random() * 95))).join('')}"}\\`;
    const send = async (i: number) => {
      const target = i % 2 ? `secretsmanager.${random()}` : random();
      const res = await fetch(`${ws.server.url}/`, {
        method: 'POST',
        headers: {
          'x-amz-target': target.trim(),
          'content-type': 'application/x-amz-json-1.1',
        },
        body: '{}',
      });
      await res.arrayBuffer();
    };
    for (let i = 0; i < 10_000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => send(i + j)));
    const metrics = await (await fetch(`${ws.server.url}/metrics`)).text();
    expect(metrics.length).toBeLessThan(64 * 1024);
    const series = metrics.split('\n').filter((l) => l.startsWith('keysafe_requests_total{'));
    // Every series line parses as name{label="value",...} number.
    for (const line of metrics.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-z_]+(\{([a-z_]+="([^"\\\n]|\\["\\n])*",?)*\})? [0-9.e+-]+$/);
    }
    const unrecognized = series.filter((l) => l.includes('operation="unrecognized"'));
    expect(unrecognized.length).toBeGreaterThan(0);
    // Every label is a known operation's name: nothing the requests chose.
    const known = new Set(['unrecognized', ...Object.keys(secretsOperations).map((o) => `secretsmanager.${o}`)]);
    for (const line of series) {
      const operation = /operation="([^"]*)"/.exec(line)![1]!;
      if (operation.startsWith('secretsmanager.') || !/^[\w]+[.:]\w+$/.test(operation)) {
        expect(known, line).toContain(operation);
      }
    }
  }, 120_000);

  it('records an unauthenticated request under a fixed action, never the target it sent', async () => {
    const target = `secretsmanager.GetSecretValue${'X'.repeat(15_000)}`;
    await fetch(`${ws.server.url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const lines = readdirSync(ws.server.auditDir)
      .flatMap((f) => readFileSync(join(ws.server.auditDir, f), 'utf8').split('\n'))
      .filter(Boolean);
    expect(lines.some((l) => l.includes('XXXXXXXX'))).toBe(false);
    expect(lines.some((l) => l.includes('"action":"unrecognized"'))).toBe(true);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(4096);
  });
});
