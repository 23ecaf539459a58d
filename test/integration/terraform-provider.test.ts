// The Keysafe Terraform provider (TypeScript, plugin protocol 6) driven by the real `terraform` binary
// against a real server: create, no-op plan, in-place update, replacement, drift, import, destroy, and a
// write-only secret value that never reaches state or plan output, a plain `value` that does, and a
// rotation block (set, changed, removed) without ever rotating on apply.
//
// Skips (saying so) when terraform is not on PATH, unless KEYSAFE_REQUIRE_TERRAFORM=1 (CI).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DescribeKeyCommand, type KMSClient, UpdateKeyDescriptionCommand } from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { requireTerraform, startTerraform, type TerraformRun, terraformWorkDir } from '../support/terraform.js';

const HAVE_TERRAFORM = requireTerraform('the Terraform provider tests');

/** The write-only secret value: it must never appear in state or in terraform's output. */
const DB_PASSWORD = 'pw-0f1d6b2e-never-in-state';
/** The plain `value` of another secret: users who set it accept that it is kept in state. */
const PLAIN_VALUE = 'plain-5c1e-kept-in-state';
const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: ['*'] }],
});

let server: TestServer;
let kms: KMSClient;
let sm: SecretsManagerClient;
let work: string;
let cliConfig: string;

const terraform = (args: string[]): Promise<TerraformRun> =>
  startTerraform(work, [...args, '-no-color'], {
    HOME: work,
    TF_CLI_CONFIG_FILE: cliConfig,
    KEYSAFE_ADDR: server.url,
    KEYSAFE_TOKEN: server.admin.token,
    TF_VAR_db_password: DB_PASSWORD,
  }).done;

async function ok(args: string[]): Promise<TerraformRun> {
  const run = await terraform(args);
  if (run.code !== 0) throw new Error(`terraform ${args.join(' ')} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
  return run;
}

interface Config {
  keyDescription: string;
  keyTags: string;
  secretName: string;
  /** The db secret's rotation block. */
  rotation?: string;
  plainValue?: string;
  extra?: string;
}

const DAILY_ROTATION = `rotation {
    strategy            = "random-password"
    settings            = { length = "24", field = "password" }
    schedule_expression = "rate(1 days)"
  }`;
const MONTHLY_ROTATION = `rotation {
    strategy                 = "random-password"
    automatically_after_days = 30
  }`;

function writeConfig(c: Config): void {
  writeFileSync(
    join(work, 'main.tf'),
    `terraform {
  required_providers {
    keysafe = { source = "keysafe.local/keysafe/keysafe" }
  }
}
provider "keysafe" {}

variable "db_password" {
  type      = string
  ephemeral = true
}

resource "keysafe_kms_key" "app" {
  description             = "${c.keyDescription}"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  tags                    = ${c.keyTags}
}

resource "keysafe_kms_alias" "app" {
  name          = "alias/app"
  target_key_id = keysafe_kms_key.app.id
}

resource "keysafe_secret" "db" {
  name                    = "${c.secretName}"
  description             = "database password"
  kms_key_id              = keysafe_kms_key.app.arn
  recovery_window_in_days = 0
  value_wo                = var.db_password
  value_wo_version        = 1
  ${c.rotation ?? ''}
}

resource "keysafe_secret" "plain" {
  name                    = "shop/plain"
  recovery_window_in_days = 0
  value                   = "${c.plainValue ?? PLAIN_VALUE}"
}

resource "keysafe_role" "web" {
  name     = "web"
  issuer   = "cluster"
  subjects = ["system:serviceaccount:shop:web"]
  policy   = ${JSON.stringify(POLICY)}
}
${c.extra ?? ''}
output "key_arn" { value = keysafe_kms_key.app.arn }
output "secret_arn" { value = keysafe_secret.db.arn }
`,
  );
}

/** A key and a secret made outside Terraform, then imported. */
const LEGACY = `resource "keysafe_kms_key" "legacy" {
  description = "made by the SDK"
}
resource "keysafe_secret" "legacy" {
  name        = "legacy/api"
  description = "made by the SDK"
}
`;

const state = () => readFileSync(join(work, 'terraform.tfstate'), 'utf8');
const resourceIn = (s: string, type: string, name: string) => {
  const parsed = JSON.parse(s) as {
    resources: { type: string; name: string; instances: { attributes: Record<string, unknown> }[] }[];
  };
  return parsed.resources.find((r) => r.type === type && r.name === name)?.instances[0]?.attributes;
};
const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

describe.skipIf(!HAVE_TERRAFORM)('terraform provider keysafe', () => {
  let keyId: string;
  let firstSecretArn: string;

  beforeAll(async () => {
    server = await startTestServer();
    kms = server.kmsClient();
    sm = server.secretsClient();
    ({ dir: work, cliConfig } = terraformWorkDir('keysafe-tf-provider-', { install: true }));
  });

  afterAll(async () => {
    kms?.destroy();
    sm?.destroy();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('refuses to run outside Terraform, saying so on stdout', () => {
    const version = (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
    const plugin = join(
      work,
      `terraform.d/plugins/keysafe.local/keysafe/keysafe/${version}/linux_amd64/terraform-provider-keysafe_v${version}`,
    );
    let out = '';
    let code = 0;
    try {
      execFileSync(plugin, [], { env: { PATH: process.env.PATH }, stdio: 'pipe' });
    } catch (e) {
      const err = e as { status: number; stdout: Buffer };
      code = err.status;
      out = err.stdout.toString();
    }
    expect(code).toBe(1);
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(out).toMatch(/plugin that Terraform starts/);
  });

  it('installs offline, plans and applies a key, alias, secret and role; the write-only value never reaches plan or state', async () => {
    writeConfig({
      keyDescription: 'orders key',
      keyTags: '{ team = "orders" }',
      secretName: 'shop/db',
      rotation: DAILY_ROTATION,
    });
    const init = await ok(['init', '-input=false']);
    expect(init.stdout).toMatch(/Installed keysafe\.local\/keysafe\/keysafe v\d+\.\d+\.\d+ \(unauthenticated\)/);

    const plan = await ok(['plan', '-input=false']);
    expect(plan.stdout).toContain('Plan: 5 to add, 0 to change, 0 to destroy.');
    expect(plan.stdout).toMatch(/value_wo\s+= \(write-only attribute\)/);
    expect(occurrences(plan.stdout + plan.stderr, DB_PASSWORD)).toBe(0);

    const apply = await ok(['apply', '-auto-approve', '-input=false']);
    expect(apply.stdout).toContain('Apply complete! Resources: 5 added, 0 changed, 0 destroyed.');
    expect(occurrences(apply.stdout + apply.stderr, DB_PASSWORD)).toBe(0);

    const tfstate = state();
    expect(occurrences(tfstate, DB_PASSWORD)).toBe(0);
    const key = resourceIn(tfstate, 'keysafe_kms_key', 'app')!;
    keyId = String(key.id);
    expect(key.arn).toMatch(new RegExp(`^arn:aws:kms:us-east-1:\\d{12}:key/${keyId}$`));
    expect(key.rotation_period_in_days).toBe(365);
    const secret = resourceIn(tfstate, 'keysafe_secret', 'db')!;
    firstSecretArn = String(secret.arn);
    expect(secret.value_wo).toBeNull();
    expect(secret.version_id).toMatch(/^[0-9a-f-]{36}$/);

    // What the server now holds, through the AWS SDKs and the admin API.
    const described = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/app' }));
    expect(described.KeyMetadata?.KeyId).toBe(keyId);
    expect(described.KeyMetadata?.Description).toBe('orders key');
    const value = await sm.send(new GetSecretValueCommand({ SecretId: 'shop/db' }));
    expect(value.SecretString).toBe(DB_PASSWORD);
    expect(value.VersionId).toBe(secret.version_id);
    // Rotation is scheduled, not run: only the value_wo version exists, with no AWSPENDING.
    const rotating = await sm.send(new DescribeSecretCommand({ SecretId: 'shop/db' }));
    expect(rotating.RotationEnabled).toBe(true);
    expect(rotating.RotationLambdaARN).toBe('keysafe:rotation:random-password?field=password&length=24');
    expect(rotating.RotationRules?.ScheduleExpression).toBe('rate(1 days)');
    expect(rotating.NextRotationDate).toBeInstanceOf(Date);
    expect(Object.values(rotating.VersionIdsToStages!)).toEqual([['AWSCURRENT']]);
    expect(secret.rotation).toEqual({
      strategy: 'random-password',
      settings: { length: '24', field: 'password' },
      schedule_expression: 'rate(1 days)',
      automatically_after_days: null,
      duration: null,
    });
    // The plain value is in state (the user's choice) and on the server.
    expect(resourceIn(tfstate, 'keysafe_secret', 'plain')?.value).toBe(PLAIN_VALUE);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'shop/plain' }))).SecretString).toBe(PLAIN_VALUE);
    const role = await fetch(`${server.url}/v1/admin/roles/web`, {
      headers: { authorization: `Bearer ${server.admin.token}` },
    });
    expect(role.status).toBe(200);
    expect(((await role.json()) as { subjects: string[] }).subjects).toEqual(['system:serviceaccount:shop:web']);
  });

  it('plans no changes right after an apply', async () => {
    const plan = await terraform(['plan', '-input=false', '-detailed-exitcode']);
    expect(plan.stdout).toContain('No changes.');
    expect(plan.code).toBe(0);
  });

  it('updates in place: key description and tags, the plain value, a rotation block removed (rotation cancelled)', async () => {
    writeConfig({
      keyDescription: 'orders key v2',
      keyTags: '{ team = "orders", env = "prod" }',
      secretName: 'shop/db',
      plainValue: `${PLAIN_VALUE}-v2`,
    });
    const plan = await ok(['plan', '-input=false']);
    expect(plan.stdout).toContain('Plan: 0 to add, 3 to change, 0 to destroy.');
    expect(plan.stdout).toMatch(/~ description\s+= "orders key" -> "orders key v2"/);
    expect(plan.stdout).toMatch(/~ value\s+= \(sensitive value\)/);
    expect(plan.stdout).toMatch(/- rotation \{/);
    await ok(['apply', '-auto-approve', '-input=false']);
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'shop/db' }))).RotationEnabled).toBe(false);
    expect(resourceIn(state(), 'keysafe_secret', 'db')?.rotation).toBeNull();
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'shop/plain' }))).SecretString).toBe(
      `${PLAIN_VALUE}-v2`,
    );
    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata?.Description).toBe('orders key v2');
    expect(resourceIn(state(), 'keysafe_kms_key', 'app')?.id).toBe(keyId);
    expect(resourceIn(state(), 'keysafe_kms_key', 'app')?.tags).toEqual({ team: 'orders', env: 'prod' });
  });

  it('replaces a secret whose name changes ("forces replacement"), keeping the value out of state', async () => {
    writeConfig({
      keyDescription: 'orders key v2',
      keyTags: '{ team = "orders", env = "prod" }',
      secretName: 'shop/db-v2',
      plainValue: `${PLAIN_VALUE}-v2`,
      rotation: MONTHLY_ROTATION,
    });
    const plan = await ok(['plan', '-input=false']);
    expect(plan.stdout).toMatch(/~ name\s+= "shop\/db" -> "shop\/db-v2" # forces replacement/);
    expect(plan.stdout).toContain('Plan: 1 to add, 0 to change, 1 to destroy.');
    expect(occurrences(plan.stdout, DB_PASSWORD)).toBe(0);
    await ok(['apply', '-auto-approve', '-input=false']);
    await expect(sm.send(new DescribeSecretCommand({ SecretId: firstSecretArn }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'shop/db-v2' }))).SecretString).toBe(DB_PASSWORD);
    expect(occurrences(state(), DB_PASSWORD)).toBe(0);
    const rotating = await sm.send(new DescribeSecretCommand({ SecretId: 'shop/db-v2' }));
    expect(rotating.RotationLambdaARN).toBe('keysafe:rotation:random-password');
    expect(rotating.RotationRules?.AutomaticallyAfterDays).toBe(30);
  });

  it('detects drift: a description changed through the AWS SDK shows in the plan and is put back by apply', async () => {
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'changed by hand' }));
    const plan = await terraform(['plan', '-input=false', '-detailed-exitcode']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/~ description\s+= "changed by hand" -> "orders key v2"/);
    await ok(['apply', '-auto-approve', '-input=false']);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.Description).toBe('orders key v2');
  });

  it('imports a key and a secret made outside Terraform, after which the plan is clean', async () => {
    const made = await kms.send(new CreateKeyCommand({ Description: 'made by the SDK' }));
    const importedId = made.KeyMetadata!.KeyId!;
    writeConfig({
      keyDescription: 'orders key v2',
      keyTags: '{ team = "orders", env = "prod" }',
      secretName: 'shop/db-v2',
      plainValue: `${PLAIN_VALUE}-v2`,
      rotation: MONTHLY_ROTATION,
      extra: LEGACY,
    });
    const imported = await ok(['import', '-input=false', 'keysafe_kms_key.legacy', importedId]);
    expect(imported.stdout).toContain('Import successful!');
    const attrs = resourceIn(state(), 'keysafe_kms_key', 'legacy')!;
    expect(attrs.id).toBe(importedId);
    expect(attrs.key_spec).toBe('SYMMETRIC_DEFAULT');
    const madeSecret = await sm.send(
      new CreateSecretCommand({ Name: 'legacy/api', Description: 'made by the SDK', SecretString: 'legacy-value' }),
    );
    await ok(['import', '-input=false', 'keysafe_secret.legacy', 'legacy/api']);
    const secretAttrs = resourceIn(state(), 'keysafe_secret', 'legacy')!;
    expect(secretAttrs.arn).toBe(madeSecret.ARN);
    expect(secretAttrs.version_id).toBe(madeSecret.VersionId);
    const plan = await terraform(['plan', '-input=false', '-detailed-exitcode']);
    expect(plan.stdout).toContain('No changes.');
    expect(plan.code).toBe(0);
  });

  it('reports bad attributes with their paths (also inside the rotation block), pointing at the lines in the configuration', async () => {
    writeConfig({
      keyDescription: 'orders key v2',
      keyTags: '{ team = "orders", env = "prod" }',
      secretName: 'shop/db-v2',
      plainValue: `${PLAIN_VALUE}-v2`,
      rotation: MONTHLY_ROTATION,
      extra: `resource "keysafe_kms_key" "bad" {
  deletion_window_in_days = 3
}
resource "keysafe_secret" "bad" {
  name     = "bad"
  value    = "x"
  value_wo = "y"
  value_wo_version = 1
  rotation {
    strategy = "lambda"
  }
}
`,
    });
    const run = await terraform(['validate']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Error: Invalid deletion_window_in_days');
    expect(run.stderr).toContain('deletion_window_in_days must be an integer from 7 to 30, got 3.');
    expect(run.stderr).toMatch(/with keysafe_kms_key\.bad,[\s\S]*deletion_window_in_days = 3/);
    expect(run.stderr).toContain('Error: Conflicting value and value_wo');
    expect(run.stderr).toMatch(/Error: Invalid rotation strategy[\s\S]*strategy = "lambda"/);
    expect(run.stderr).toMatch(/Error: Invalid rotation schedule[\s\S]*Set exactly one of schedule_expression/);
  });

  it('reads a secret through the ephemeral keysafe_secret_value into another secret, and its metadata through a data source', async () => {
    writeConfig({
      keyDescription: 'orders key v2',
      keyTags: '{ team = "orders", env = "prod" }',
      secretName: 'shop/db-v2',
      plainValue: `${PLAIN_VALUE}-v2`,
      rotation: MONTHLY_ROTATION,
      extra: `${LEGACY}
ephemeral "keysafe_secret_value" "db" {
  secret_id = keysafe_secret.db.arn
}
resource "keysafe_secret" "copy" {
  name                    = "shop/db-copy"
  recovery_window_in_days = 0
  value_wo                = ephemeral.keysafe_secret_value.db.secret_string
  value_wo_version        = 1
}
data "keysafe_secret_metadata" "db" {
  secret_id = keysafe_secret.db.arn
}
output "db_version" { value = data.keysafe_secret_metadata.db.version_id }
`,
    });
    const apply = await ok(['apply', '-auto-approve', '-input=false']);
    expect(apply.stdout).toContain('Resources: 1 added, 0 changed, 0 destroyed.');
    expect(occurrences(apply.stdout, DB_PASSWORD)).toBe(0);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'shop/db-copy' }))).SecretString).toBe(DB_PASSWORD);
    expect(occurrences(state(), DB_PASSWORD)).toBe(0);
    const dbVersion = (await sm.send(new DescribeSecretCommand({ SecretId: 'shop/db-v2' }))).VersionIdsToStages!;
    const output = await ok(['output', '-raw', 'db_version']);
    expect(dbVersion[output.stdout.trim()]).toContain('AWSCURRENT');
  });

  it('destroys: keys become pending deletion, secrets are deleted, the role removed', async () => {
    const legacyId = String(resourceIn(state(), 'keysafe_kms_key', 'legacy')!.id);
    const destroy = await ok(['destroy', '-auto-approve', '-input=false']);
    expect(destroy.stdout).toContain('Destroy complete! Resources: 8 destroyed.');
    for (const id of [keyId, legacyId]) {
      const meta = (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
      expect(meta.KeyState).toBe('PendingDeletion');
    }
    const appKey = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    // deletion_window_in_days = 7
    expect(appKey.DeletionDate!.getTime() - Date.now()).toBeLessThan(8 * 86_400_000);
    for (const name of ['shop/db-v2', 'shop/db-copy', 'shop/plain']) {
      await expect(sm.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toBeInstanceOf(
        ResourceNotFoundException,
      );
    }
    // No recovery window configured: the imported secret waits out the default one.
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'legacy/api' }))).DeletedDate).toBeInstanceOf(Date);
    const role = await fetch(`${server.url}/v1/admin/roles/web`, {
      headers: { authorization: `Bearer ${server.admin.token}` },
    });
    expect(role.status).toBe(404);
  });
});
