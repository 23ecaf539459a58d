// The real `terraform` binary keeps its state in Keysafe's http backend: encrypted at rest, locked, versioned.
//
// Skips (saying so) when terraform is not on PATH, unless KEYSAFE_REQUIRE_TERRAFORM=1 (CI), where
// a missing binary fails instead.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { requireTerraform, startTerraform, terraformWorkDir } from '../support/terraform.js';
import { policyOf, startWorkloadServer, type WorkloadServer } from '../support/workload.js';

const HAVE_TERRAFORM = requireTerraform('the Terraform http backend tests');

const KEEP_VERSIONS = 3;
const MAX_STATE_BYTES = 3 * 1024 * 1024;

let workload: WorkloadServer;
let server: TestServer;
let work: string;
let cliConfig: string;
/** A session token of role `ci`: every terraform:*State permission except ForceUnlockState, on infra/*. */
let ciToken: string;

describe.skipIf(!HAVE_TERRAFORM)('terraform http state backend', () => {
  beforeAll(async () => {
    workload = await startWorkloadServer({
      roles: [
        {
          name: 'ci',
          subjects: ['system:serviceaccount:infra:terraform'],
          policy: policyOf([
            {
              Effect: 'Allow',
              Action: ['terraform:GetState', 'terraform:PutState', 'terraform:LockState', 'terraform:UnlockState'],
              Resource: ['arn:aws:keysafe:*:*:terraform-state/infra/*'],
            },
          ]),
        },
      ],
      config: { terraform: { keepVersions: KEEP_VERSIONS, maxStateBytes: MAX_STATE_BYTES } },
    });
    server = workload.server;
    ciToken = await workload.session('ci', { namespace: 'infra', serviceAccount: 'terraform' });
    ({ dir: work, cliConfig } = terraformWorkDir('keysafe-terraform-'));
  });

  afterAll(async () => {
    await workload?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const stateUrl = (name: string) => `${server.url}/v1/terraform/state/${name}`;
  const basic = (token: string) => `Basic ${Buffer.from(`keysafe:${token}`).toString('base64')}`;

  /** A raw request to the backend, as Terraform would send it. */
  async function backend(
    method: string,
    name: string,
    options: { token?: string; body?: string; query?: string } = {},
  ) {
    const res = await fetch(`${stateUrl(name)}${options.query ?? ''}`, {
      method,
      headers: {
        authorization: basic(options.token ?? server.admin.token),
        ...(options.body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(options.body !== undefined && { body: options.body }),
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  }

  const lockInfo = (id: string, who = 'ci@crashed-runner') =>
    JSON.stringify({
      ID: id,
      Operation: 'OperationTypeApply',
      Info: '',
      Who: who,
      Version: '1.11.4',
      Created: new Date().toISOString(),
      Path: '',
    });

  /** Starts terraform in `dir`; the token travels only in TF_HTTP_PASSWORD. */
  const start = (dir: string, args: string[], token: string) =>
    startTerraform(dir, args, {
      HOME: process.env.HOME ?? work,
      TF_CLI_CONFIG_FILE: cliConfig,
      TF_HTTP_PASSWORD: token,
    });

  const terraform = (dir: string, args: string[], token = server.admin.token) => start(dir, args, token).done;

  /** A working directory whose backend is state `name`, with `body` as the rest of main.tf, initialised. */
  async function project(name: string, body: string, token = server.admin.token): Promise<string> {
    const dir = join(work, `${name.replaceAll('/', '_')}-${randomUUID().slice(0, 8)}`);
    mkdirSync(dir);
    const url = stateUrl(name);
    writeFileSync(
      join(dir, 'main.tf'),
      `terraform {
  backend "http" {
    address        = "${url}"
    lock_address   = "${url}"
    unlock_address = "${url}"
    lock_method    = "LOCK"
    unlock_method  = "UNLOCK"
    username       = "keysafe"
  }
}
${body}`,
    );
    const init = await terraform(dir, ['init', '-input=false', '-no-color'], token);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    return dir;
  }

  const stateSerial = async (name: string) =>
    (JSON.parse((await backend('GET', name)).text) as { serial: number }).serial;

  it('applies with a role session token and stores the state encrypted: no attribute in the database files', async () => {
    const canary = `tf-canary-${randomUUID()}`;
    const name = 'infra/encrypted';
    const dir = await project(
      name,
      `resource "terraform_data" "db" {
  input = { password = "${canary}", host = "db.internal" }
}
`,
      ciToken,
    );
    const apply = await terraform(dir, ['apply', '-auto-approve', '-input=false', '-no-color'], ciToken);
    expect(apply.stderr).toBe('');
    expect(apply.stdout).toContain('Apply complete! Resources: 1 added');

    // The state went through the backend: it reads back whole, and plans against it see no change.
    const got = await backend('GET', name, { token: ciToken });
    expect(got.status).toBe(200);
    expect(got.text).toContain(canary);
    const plan = await terraform(dir, ['plan', '-detailed-exitcode', '-input=false', '-no-color'], ciToken);
    expect(plan.code).toBe(0);

    const files = readdirSync(server.dataDir).filter((f) => f.startsWith('keysafe.db'));
    expect(files).toContain('keysafe.db-wal');
    for (const f of files) expect(readFileSync(join(server.dataDir, f)).includes(canary), f).toBe(false);
    expect(server.logs.join('\n')).not.toContain(canary);
    // TF_HTTP_PASSWORD keeps the token out of .terraform/.
    expect(readFileSync(join(dir, '.terraform', 'terraform.tfstate'), 'utf8')).not.toContain(ciToken);
  });

  it('makes a second concurrent apply fail naming the holder, and one with -lock-timeout wait and succeed', async () => {
    const name = 'infra/contended';
    const marker = join(work, `holding-${randomUUID()}`);
    const config = `variable "run" { type = string }
variable "hold" {
  type    = number
  default = 0
}
variable "marker" {
  type    = string
  default = "/dev/null"
}
resource "terraform_data" "slow" {
  input = var.run
  provisioner "local-exec" {
    command = "touch '\${var.marker}' && sleep \${var.hold}"
  }
}
`;
    const [a, b, c] = await Promise.all([project(name, config), project(name, config), project(name, config)]);
    const apply = ['apply', '-auto-approve', '-input=false', '-no-color'];
    const first = start(a, [...apply, '-var', 'run=1', '-var', 'hold=2.5', '-var', `marker=${marker}`], ciToken);
    const deadline = Date.now() + 15_000;
    while (!existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(marker)).toBe(true);

    // While the first apply runs its provisioner, the backend names it as the holder.
    const probe = await backend('LOCK', name, { body: lockInfo('probe') });
    expect(probe.status).toBe(423);
    const holder = JSON.parse(probe.text) as Record<string, string>;
    expect(Object.keys(holder).sort()).toEqual(['Created', 'ID', 'Info', 'Operation', 'Path', 'Version', 'Who']);
    expect(holder.Operation).toBe('OperationTypeApply');
    expect(holder.Who).toContain('@');

    // Started while the holder still has seconds to go: its first attempts are refused, then it gets the lock.
    const waiter = start(c, [...apply, '-lock-timeout=10s', '-var', 'run=2'], ciToken).done;
    const second = await terraform(b, [...apply, '-var', 'run=1'], ciToken);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('Error acquiring the state lock');
    // Terraform wraps its message; only the holder's ID reaches the user.
    expect(second.stderr.replace(/\s+/g, ' ')).toContain(`HTTP remote state already locked: ID=${holder.ID}`);

    const holderRun = await first.done;
    expect(holderRun.stderr).toBe('');
    expect(holderRun.code).toBe(0);
    const waited = await waiter;
    expect(waited.stderr).toBe('');
    expect(waited.code).toBe(0);
    expect(waited.endedAt).toBeGreaterThan(holderRun.endedAt);
    // The waiter was refused while the holder ran (besides our probe and the second apply).
    const refusals = server.logs.filter((l) => l.includes('locked by another run') && l.includes(holder.ID!));
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    const state = JSON.parse((await backend('GET', name)).text) as {
      resources: { instances: { attributes: { input: unknown } }[] }[];
    };
    expect(state.resources[0]!.instances[0]!.attributes.input).toEqual({ type: 'string', value: '2' });
    expect((await backend('LOCK', name, { body: lockInfo('after') })).status).toBe(200);
    expect((await backend('UNLOCK', name, { body: lockInfo('after') })).status).toBe(200);
  });

  it('force-unlocks a crashed run for the admin, refuses a role without terraform:ForceUnlockState, and audits both', async () => {
    const name = 'infra/crashed';
    const dir = await project(name, 'resource "terraform_data" "x" {\n  input = "x"\n}\n', ciToken);
    const crashed = randomUUID();
    expect((await backend('LOCK', name, { body: lockInfo(crashed) })).status).toBe(200);

    const blocked = await terraform(dir, ['plan', '-input=false', '-no-color'], ciToken);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(`ID=${crashed}`);

    const refused = await terraform(dir, ['force-unlock', '-force', '-no-color', crashed], ciToken);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Unexpected HTTP response code 403');
    const stillHeld = await backend('LOCK', name, { body: lockInfo('probe') });
    expect(stillHeld.status).toBe(423);
    expect(JSON.parse(stillHeld.text).ID).toBe(crashed);

    const forced = await terraform(dir, ['force-unlock', '-force', '-no-color', crashed]);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('Terraform state has been successfully unlocked');
    const plan = await terraform(dir, ['plan', '-input=false', '-no-color'], ciToken);
    expect(plan.code).toBe(0);

    const audit = readdirSync(server.auditDir)
      .filter((f) => f.endsWith('.log'))
      .flatMap((f) => readFileSync(join(server.auditDir, f), 'utf8').split('\n').filter(Boolean))
      .map(
        (l) =>
          JSON.parse(l) as {
            action: string;
            decision: string;
            outcome: string;
            resource?: string;
            identity: { type: string };
          },
      )
      .filter((r) => r.action === 'terraform:ForceUnlockState' && r.resource?.endsWith(`:terraform-state/${name}`));
    expect(audit.map((r) => [r.identity.type, r.decision, r.outcome])).toEqual([
      ['role', 'deny', 'AccessDeniedException'],
      ['admin', 'allow', 'success'],
    ]);
    expect(server.logs.some((l) => l.includes('terraform state force-unlocked') && l.includes(crashed))).toBe(true);
  });

  it('refuses with 409 a write of a lower serial or another lineage, keeping the stored state', async () => {
    const name = 'infra/serial';
    const dir = await project(
      name,
      'variable "v" { type = string }\nresource "terraform_data" "x" {\n  input = var.v\n}\n',
    );
    const apply = ['apply', '-auto-approve', '-input=false', '-no-color'];
    expect((await terraform(dir, [...apply, '-var', 'v=one'])).code).toBe(0);
    const stale = (await backend('GET', name)).text;
    expect((await terraform(dir, [...apply, '-var', 'v=two'])).code).toBe(0);
    const current = JSON.parse((await backend('GET', name)).text) as { serial: number; lineage: string };
    expect(current.serial).toBeGreaterThan(JSON.parse(stale).serial);

    const lower = await backend('POST', name, { body: stale });
    expect(lower.status).toBe(409);
    expect(JSON.parse(lower.text).message).toContain(`has serial ${current.serial}`);
    const foreign = await backend('POST', name, {
      body: JSON.stringify({ ...current, serial: current.serial + 1, lineage: randomUUID() }),
    });
    expect(foreign.status).toBe(409);
    expect(JSON.parse(foreign.text).message).toContain(`lineage ${current.lineage}`);
    expect(await stateSerial(name)).toBe(current.serial);

    // `state push -force` of the stale copy gets past Terraform's own check (it re-numbers the
    // copy to the next serial, the one already stored) but not past the server.
    writeFileSync(join(dir, 'stale.tfstate'), stale);
    const push = await terraform(dir, ['state', 'push', '-force', 'stale.tfstate']);
    expect(push.code).toBe(1);
    expect(push.stderr).toContain('Failed to persist state: HTTP error: 409');
    expect(await stateSerial(name)).toBe(current.serial);
    expect(
      (await terraform(dir, ['plan', '-detailed-exitcode', '-input=false', '-no-color', '-var', 'v=two'])).code,
    ).toBe(0);
  });

  it(`keeps the last ${KEEP_VERSIONS} versions of a state, each readable for a roll back`, async () => {
    const name = 'infra/versions';
    const dir = await project(
      name,
      'variable "v" { type = string }\nresource "terraform_data" "x" {\n  input = var.v\n}\n',
    );
    for (const v of ['a', 'b', 'c', 'd', 'e']) {
      expect(
        (await terraform(dir, ['apply', '-auto-approve', '-input=false', '-no-color', '-var', `v=${v}`])).code,
      ).toBe(0);
    }
    const res = await fetch(`${server.url}/v1/terraform/state-versions/${name}`, {
      headers: { authorization: basic(ciToken) },
    });
    expect(res.status).toBe(200);
    const { versions } = (await res.json()) as { versions: { version: number; serial: number }[] };
    const serial = await stateSerial(name);
    expect(versions.map((v) => v.version)).toEqual([5, 4, 3]);
    expect(versions[0]!.serial).toBe(serial);
    const oldest = await backend('GET', name, { query: '?version=3' });
    expect(oldest.status).toBe(200);
    expect(JSON.parse(oldest.text).serial).toBe(versions[2]!.serial);
    expect(oldest.text).toContain('"value": "c"');
    expect((await backend('GET', name, { query: '?version=2' })).status).toBe(404);

    // Rolling back (the README's recipe): the kept version, given a serial above the current one, pushed.
    writeFileSync(join(dir, 'rollback.tfstate'), JSON.stringify({ ...JSON.parse(oldest.text), serial: serial + 1 }));
    const push = await terraform(dir, ['state', 'push', 'rollback.tfstate'], ciToken);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    const rolledBack = JSON.parse((await backend('GET', name)).text) as { serial: number };
    expect(rolledBack.serial).toBeGreaterThan(serial);
    const plan = ['plan', '-detailed-exitcode', '-input=false', '-no-color', '-var', 'v=c'];
    expect((await terraform(dir, plan, ciToken)).code).toBe(0);
  });

  it('accepts states beyond maxBodyBytes up to terraform.maxStateBytes, and answers 413 above', async () => {
    const name = 'infra/large';
    const big = (bytes: number) =>
      JSON.stringify({ version: 4, serial: 1, lineage: 'big', resources: [], padding: 'x'.repeat(bytes) });
    const twoMiB = big(2 * 1024 * 1024);
    expect((await backend('POST', name, { body: twoMiB })).status).toBe(200);
    expect((await backend('GET', name)).text).toBe(twoMiB);
    expect((await backend('DELETE', name)).status).toBe(200);
    expect((await backend('GET', name)).status).toBe(404);
    expect((await backend('DELETE', name)).status).toBe(404);
    const tooBig = await backend('POST', name, { body: big(MAX_STATE_BYTES) });
    expect(tooBig.status).toBe(413);
    expect(tooBig.text).toContain('terraform.maxStateBytes');
  });

  it('answers 401 without a valid token and 403 for a state outside the role policy', async () => {
    const anonymous = await fetch(stateUrl('infra/auth'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="keysafe"');
    expect((await backend('GET', 'infra/auth', { token: 'not-a-token' })).status).toBe(401);
    expect((await backend('GET', 'infra/auth', { token: ciToken })).status).toBe(404);
    const outside = await backend('GET', 'other/auth', { token: ciToken });
    expect(outside.status).toBe(403);
    expect(JSON.parse(outside.text).message).toContain('terraform:GetState');
    expect((await backend('DELETE', 'infra/auth', { token: ciToken })).status).toBe(403);
  });
});
