// The audit log end to end: one record per request of every kind, and `keysafe audit verify|tail` on a live server.
import { execFile } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRecord, listSegments, verifyAuditLog } from '../../src/audit/index.js';
import type { OidcIssuer } from '../support/oidc-issuer.js';
import { CLI, type ServerProcess, spawnServer } from '../support/process.js';
import { ACCOUNT, roleArn } from '../support/sdk.js';
import { startTestServer, type TestServer, tempDir } from '../support/server.js';
import { bearerCall, login as loginAt, webIdentityRequest } from '../support/session.js';
import { SHOP_WEB_READER, startWorkloadServer } from '../support/workload.js';

const run = promisify(execFile);
const WEB_ARN = roleArn('web');
const SUBJECT = 'system:serviceaccount:shop:web';
const RECORD_FIELDS = [
  'seq',
  'time',
  'requestId',
  'source',
  'identity',
  'action',
  'resource',
  'region',
  'decision',
  'outcome',
  'prev',
  'hash',
];

function auditLines(auditDir: string): string[] {
  return listSegments(auditDir).flatMap((s) => readFileSync(s.path, 'utf8').split('\n').slice(0, -1));
}

describe('audit records from a running server', () => {
  let issuer: OidcIssuer;
  let server: TestServer;
  const records = () => auditLines(join(server.dataDir, 'audit')).map((l) => JSON.parse(l) as AuditRecord);

  beforeAll(async () => {
    ({ issuer, server } = await startWorkloadServer({
      subjects: ['system:serviceaccount:shop:*'],
      statements: [SHOP_WEB_READER],
    }));
    const sm = server.secretsClient();
    await sm.send(new CreateSecretCommand({ Name: 'shop/web/db', SecretString: 'web-password' }));
    await sm.send(new CreateSecretCommand({ Name: 'shop/api/db', SecretString: 'api-password' }));
  });

  afterAll(async () => {
    await server?.stop();
    await issuer?.stop();
  });

  /** Runs one request and returns the single record it produced, checked against the response. */
  async function recordOf(send: () => Promise<{ requestId: string }>): Promise<AuditRecord> {
    const before = records().length;
    const t0 = Date.now();
    const { requestId } = await send();
    const t1 = Date.now();
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const all = records();
    // Exactly one new record, already on disk when the answer arrived, and it is this request's.
    expect(all.length - before).toBe(1);
    const mine = all.filter((r) => r.requestId === requestId);
    expect(mine).toHaveLength(1);
    const r = mine[0]!;
    expect(r).toBe(all.at(-1));
    expect(Object.keys(r).sort()).toEqual(
      RECORD_FIELDS.filter(
        (f) => (f !== 'resource' || r.resource !== undefined) && (f !== 'region' || r.region !== undefined),
      ).sort(),
    );
    expect(Date.parse(r.time)).toBeGreaterThanOrEqual(t0);
    expect(Date.parse(r.time)).toBeLessThanOrEqual(t1);
    expect(r.source).toBe('127.0.0.1');
    return r;
  }

  async function awsJson(target: string, body: object, token: string) {
    const res = await bearerCall(server.url, token, target, body);
    return { status: res.status, requestId: res.headers.get('x-amzn-requestid')!, body: (await res.json()) as never };
  }

  async function login(jwt: string) {
    const res = await loginAt(server.url, { role: 'web', jwt });
    const body = (await res.json()) as { token?: string; __type?: string };
    return { status: res.status, requestId: res.headers.get('x-amzn-requestid')!, body };
  }

  async function assumeRole(jwt: string) {
    const res = await webIdentityRequest(server.url, 'web', 'audit-test', jwt);
    return { status: res.status, requestId: res.headers.get('x-amzn-requestid')!, xml: await res.text() };
  }

  async function session(): Promise<string> {
    const res = await login(await issuer.kubernetesToken());
    expect(res.status).toBe(200);
    return res.body.token!;
  }

  it('records an admin KMS Encrypt (SigV4) under the request id the SDK saw', async () => {
    const kms = server.kmsClient();
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'audit' }));
    const r = await recordOf(async () => {
      const out = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('hi') }));
      return { requestId: out.$metadata.requestId! };
    });
    expect(r).toMatchObject({
      identity: { type: 'admin', arn: `arn:aws:iam::${ACCOUNT}:root` },
      action: 'kms:Encrypt',
      resource: KeyMetadata!.Arn,
      region: 'us-east-1',
      decision: 'allow',
      outcome: 'success',
    });
  });

  it('records a successful login and a role reading its own secret', async () => {
    let token = '';
    const loginRecord = await recordOf(async () => {
      const res = await login(await issuer.kubernetesToken());
      expect(res.status).toBe(200);
      token = res.body.token!;
      return res;
    });
    expect(loginRecord).toMatchObject({
      identity: { type: 'role', role: 'web', subject: SUBJECT },
      action: 'keysafe:Login',
      resource: WEB_ARN,
      decision: 'allow',
      outcome: 'success',
    });
    const read = await recordOf(async () => {
      const res = await awsJson('secretsmanager.GetSecretValue', { SecretId: 'shop/web/db' }, token);
      expect(res.status).toBe(200);
      return res;
    });
    expect(read).toMatchObject({
      identity: {
        type: 'role',
        arn: expect.stringMatching(new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/web/`)),
        role: 'web',
        subject: SUBJECT,
      },
      action: 'secretsmanager:GetSecretValue',
      resource: expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:shop\/web\/db-/),
      decision: 'allow',
      outcome: 'success',
    });
    expect(read.identity.arn).toBe(loginRecord.identity.arn);
  });

  it('records a request the role is denied, with deny and AccessDeniedException', async () => {
    const token = await session();
    const r = await recordOf(async () => {
      const res = await awsJson('secretsmanager.GetSecretValue', { SecretId: 'shop/api/db' }, token);
      expect(res.status).toBe(400);
      expect((res.body as { __type: string }).__type).toBe('AccessDeniedException');
      return res;
    });
    expect(r).toMatchObject({
      identity: { type: 'role', role: 'web', subject: SUBJECT },
      action: 'secretsmanager:GetSecretValue',
      resource: expect.stringContaining(':secret:shop/api/db'),
      decision: 'deny',
      outcome: 'AccessDeniedException',
    });
  });

  it('records a failed login as an anonymous denied attempt on the role', async () => {
    const r = await recordOf(async () => {
      const res = await login(await issuer.kubernetesToken({ audience: 'someone-else' }));
      expect(res.status).toBe(401);
      expect(res.body.__type).toBe('InvalidIdentityToken');
      return res;
    });
    expect(r).toMatchObject({
      identity: { type: 'anonymous' },
      action: 'keysafe:Login',
      resource: WEB_ARN,
      decision: 'deny',
      outcome: 'InvalidIdentityToken',
    });
  });

  it('records an STS AssumeRoleWithWebIdentity, allowed and refused', async () => {
    const ok = await recordOf(async () => {
      const res = await assumeRole(await issuer.kubernetesToken());
      expect(res.status).toBe(200);
      expect(res.xml).toContain(`<RequestId>${res.requestId}</RequestId>`);
      return res;
    });
    expect(ok).toMatchObject({
      identity: {
        type: 'role',
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/web/audit-test`,
        role: 'web',
        subject: SUBJECT,
      },
      action: 'sts:AssumeRoleWithWebIdentity',
      resource: WEB_ARN,
      decision: 'allow',
      outcome: 'success',
    });
    const now = Math.floor(Date.now() / 1000);
    const expired = await recordOf(async () => {
      const res = await assumeRole(await issuer.kubernetesToken({ issuedAt: now - 7200, lifetime: 3600 }));
      expect(res.status).toBe(400);
      expect(res.xml).toContain('ExpiredToken');
      return res;
    });
    expect(expired).toMatchObject({
      identity: { type: 'anonymous' },
      action: 'sts:AssumeRoleWithWebIdentity',
      resource: WEB_ARN,
      decision: 'deny',
      outcome: 'ExpiredTokenException',
    });
  });

  it('records a request without credentials as anonymous and unrecognized, with no decision', async () => {
    const r = await recordOf(async () => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'x-amz-target': 'TrentService.ListKeys', 'content-type': 'application/x-amz-json-1.1' },
        body: '{}',
      });
      expect(res.status).toBe(400);
      return { requestId: res.headers.get('x-amzn-requestid')! };
    });
    // Never a name the request chose: an unauthenticated request is recorded under one fixed action.
    expect(r).toMatchObject({ identity: { type: 'anonymous' }, action: 'unrecognized', decision: 'none' });
    expect(r.outcome).toMatch(/Exception$/);
  });
});

describe('keysafe audit verify|tail against a spawned server', () => {
  let dataDir: string;
  let proc: ServerProcess;
  const auditDir = () => join(dataDir, 'audit');

  beforeAll(async () => {
    dataDir = tempDir();
    proc = await spawnServer(dataDir);
    for (let i = 0; i < 12; i++) await call('TrentService.CreateKey', { Description: `k${i}` });
  });

  afterAll(async () => {
    proc?.child.kill('SIGTERM');
    await proc?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function call(target: string, body: object): Promise<void> {
    const res = await fetch(proc.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${proc.admin.token}`, 'x-amz-target': target },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
  }

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, 'audit', ...args], {
        env: { PATH: process.env.PATH },
      });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  }

  it('verify exits 0 on the live log and prints the record count, also while requests are being written', async () => {
    const n = auditLines(auditDir()).length;
    expect(n).toBeGreaterThanOrEqual(12);
    const quiet = await cli('verify', '--data-dir', dataDir);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toContain(`audit log ok: ${n} records (records 1–${n}) in 1 segment(s)`);

    // Requests keep arriving while verify reads the log: a record half-written is not a break.
    let busy = true;
    const load = (async () => {
      while (busy) await Promise.all(Array.from({ length: 8 }, () => call('TrentService.ListKeys', {})));
    })();
    try {
      for (let i = 0; i < 2; i++) {
        const r = await cli('verify', '--data-dir', dataDir);
        expect(r.code, r.stdout).toBe(0);
        expect(r.stdout).toMatch(/^audit log ok: \d+ records/);
      }
    } finally {
      busy = false;
      await load;
    }
    expect(auditLines(auditDir()).length).toBeGreaterThan(n);
  });

  it('tail -n 3 prints the last 3 records as JSON lines', async () => {
    const last = auditLines(auditDir()).slice(-3);
    const r = await cli('tail', '--data-dir', dataDir, '-n', '3');
    expect(r.code).toBe(0);
    const printed = r.stdout.trimEnd().split('\n');
    expect(printed).toEqual(last);
    const parsed = printed.map((l) => JSON.parse(l) as AuditRecord);
    expect(parsed.map((p) => p.seq)).toEqual([parsed[0]!.seq, parsed[0]!.seq + 1, parsed[0]!.seq + 2]);
    expect(parsed.every((p) => p.action === 'kms:ListKeys' && p.identity.type === 'admin')).toBe(true);
  });

  it('verify exits 1 and names the record whose byte was changed on disk, by line and seq', async () => {
    const segment = listSegments(auditDir())[0]!.path;
    const k = 7;
    const bytes = readFileSync(segment);
    let start = 0;
    for (let line = 1; line < k; line++) start = bytes.indexOf(0x0a, start) + 1;
    // One byte of the action's value: kms:CreateKey → kms:CreateKez, still valid JSON.
    const at = bytes.indexOf('"action":"kms:CreateKey"', start) + '"action":"kms:CreateKe'.length;
    expect(at).toBeLessThan(bytes.indexOf(0x0a, start));
    bytes[at] = 'z'.charCodeAt(0);
    writeFileSync(segment, bytes);
    // The server is still running and appending behind the changed record.
    await call('TrentService.ListKeys', {});

    const r = await cli('verify', '--data-dir', dataDir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`audit log BROKEN at audit-000001.log line ${k} (seq ${k}): hash does not match`);
    expect(r.stdout).toContain(`${k - 1} records before it are intact`);
  });
});

describe('a server whose audit log cannot be written', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function getSecret(id: string) {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.admin.token}`, 'x-amz-target': 'secretsmanager.GetSecretValue' },
      body: JSON.stringify({ SecretId: id }),
    });
    return { status: res.status, requestId: res.headers.get('x-amzn-requestid')!, text: await res.text() };
  }

  /** The in-process server's segment descriptor now points at /dev/full: its next write fails with ENOSPC. */
  function fillDisk(): void {
    const target = realpathSync(listSegments(join(server.dataDir, 'audit')).at(-1)!.path);
    const fd = readdirSync('/proc/self/fd')
      .map(Number)
      .find((n) => {
        try {
          return readlinkSync(`/proc/self/fd/${n}`) === target;
        } catch {
          return false;
        }
      });
    expect(fd).toBeDefined();
    closeSync(fd!);
    const full = openSync('/dev/full', 'a');
    if (full !== fd) closeSync(full); // then the write fails with EBADF: still a failed write
  }

  it('refuses instead of serving unrecorded, and serves and records again once the log is writable', async () => {
    const auditDir = join(server.dataDir, 'audit');
    const create = await fetch(server.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.admin.token}`, 'x-amz-target': 'secretsmanager.CreateSecret' },
      body: JSON.stringify({ Name: 'audited/db', SecretString: 'audited-value' }),
    });
    expect(create.status).toBe(200);

    // Still broken when the next requests come: the newest segment is a directory, so reopening fails.
    const blocker = join(auditDir, 'audit-000002.log');
    fillDisk();
    mkdirSync(blocker);
    const during = await getSecret('audited/db');
    const refused = await getSecret('audited/db');
    rmdirSync(blocker);
    const after = await getSecret('audited/db');

    // The record of `during` could not be written: it must not have been answered with the value.
    expect(during.status, during.text).toBe(503);
    expect(during.text).not.toContain('audited-value');
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.text).__type).toBe('ServiceUnavailableException');
    expect(after.status).toBe(200);
    expect(JSON.parse(after.text).SecretString).toBe('audited-value');
    const lines = auditLines(auditDir);
    expect(lines.some((l) => l.includes(after.requestId))).toBe(true);
    expect(lines.some((l) => l.includes(during.requestId) || l.includes(refused.requestId))).toBe(false);
    expect(verifyAuditLog(auditDir)).toMatchObject({ ok: true, records: lines.length });
  });
});
