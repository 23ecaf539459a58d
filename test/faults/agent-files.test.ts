// Faults around the agent's files: its target directory removed (then recreated by someone else), made
// read-only, and the workload's token file deleted. Each: a clear log line, the last good value kept on
// the endpoint and in whole files (a reader process checks every read), and convergence to the current
// value once the fault ends, without a change having to come along first.
import { chmodSync, chownSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until } from '../support/wait.js';
import { type AgentUnderTest, expectOnlyWholeValues, startAgentUnderTest, VALUE_MARK } from './agent-harness.js';

let agent: AgentUnderTest;
const count = (text: string, what: string) => text.split(what).length - 1;

beforeAll(async () => {
  agent = await startAgentUnderTest();
});

afterAll(async () => {
  // Through every fault: no secret value in any log line.
  if (agent) expect(agent.log()).not.toContain(VALUE_MARK);
  await agent?.stop();
});

describe('agent file faults', () => {
  it('writes its files again when their directory is removed, by itself and when someone recreates it empty', async () => {
    const readers = await agent.readers();
    await sleep(100);
    rmSync(agent.secretsDir, { recursive: true, force: true });
    // Nothing changed on the server: the agent notices the files are gone and writes them again.
    await agent.converged(0, 5000);
    await until(
      () => agent.log().includes('"msg":"secret files disappeared; writing them again"'),
      2000,
      'the missing files are logged',
    );

    // Removed and recreated empty (by an operator, owned like the original), then a change.
    const { uid, gid } = statSync(agent.secretsDir);
    rmSync(agent.secretsDir, { recursive: true, force: true });
    mkdirSync(agent.secretsDir);
    chownSync(agent.secretsDir, uid, gid);
    await agent.converged(0, 5000);
    await agent.put(1);
    await agent.converged(1, 5000);

    const seen = await readers.stop();
    expectOnlyWholeValues(seen, true); // absent for a moment, never partial
    expect(seen.files.versions).toEqual([0, 1]);
    expect(seen.endpoint.versions).toEqual([0, 1]);
    expect(agent.alive()).toBe(true);
  });

  it('keeps the last good files while its directory is read-only, logs it once, and writes the current value when writable again', async () => {
    const before = agent.fileVersion();
    const readers = await agent.readers();
    chmodSync(agent.secretsDir, 0o555);
    try {
      await agent.put(2);
      await until(
        () => /"msg":"could not write secret files[^\n]*EACCES/.test(agent.log()),
        5000,
        'the write failure is logged',
      );
      await sleep(1500); // retried meanwhile, the files untouched
      expect(agent.fileVersion()).toBe(before);
    } finally {
      chmodSync(agent.secretsDir, 0o755);
    }
    // The agent already holds v2 (the endpoint serves it): the files follow without a new change.
    await agent.converged(2, 8000);
    await until(
      () => agent.log().includes('"msg":"secret files can be written again"'),
      2000,
      'the recovery is logged',
    );
    expect(count(agent.log(), '"msg":"could not write secret files')).toBe(1); // not once per retry

    const seen = await readers.stop();
    expectOnlyWholeValues(seen);
    expect(seen.files.versions).toEqual([before, 2]);
    expect(seen.endpoint.versions).toEqual([before, 2]);
    expect(agent.alive()).toBe(true);
  });

  it('keeps working on its session while the token file is missing, serves the last value once it must log in, and logs in again when the token returns', async () => {
    const before = agent.fileVersion();
    const readers = await agent.readers();
    rmSync(agent.tokenFile);
    await until(
      () => /"msg":"login failed; retrying"[^\n]*cannot read the token file [^\n]*ENOENT/.test(agent.log()),
      5000,
      'the missing token file is logged',
    );
    // The session is still good: changes still arrive.
    await agent.put(3);
    await agent.converged(3, 5000);

    // The session is revoked: the agent would need the token file to log in, and keeps what it has.
    const revoked = await fetch(`${agent.workload.server.url}/v1/admin/roles/web/revoke-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.workload.server.admin.token}` },
    });
    expect(revoked.status).toBe(200);
    await agent.put(4);
    await sleep(1500);
    expect(agent.fileVersion()).toBe(3);

    const logins = count(agent.log(), '"msg":"logged in"');
    writeFileSync(agent.tokenFile, await agent.workload.issuer.kubernetesToken());
    await until(() => count(agent.log(), '"msg":"logged in"') > logins, 5000, 'a login with the restored token');
    await agent.converged(4, 5000);

    const seen = await readers.stop();
    expectOnlyWholeValues(seen);
    expect(seen.files.versions).toEqual([before, 3, 4]);
    expect(seen.endpoint.versions).toEqual([before, 3, 4]);
    expect(agent.log()).not.toContain('eyJ'); // no JWT or session token in any log line
    expect(agent.alive()).toBe(true);
  });
});
