// terraform/examples/basic applied for real, as its README tells a new user to: the provider installed by
// `keysafe terraform install`, state in the server's http backend, then destroyed. Only the server's
// address differs (-backend-config and TF_VAR_keysafe_address), the example's files are used as they are.
//
// Skips (saying so) when terraform is not on PATH, unless KEYSAFE_REQUIRE_TERRAFORM=1 (CI).
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeKeyCommand, GetKeyRotationStatusCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { requireTerraform, startTerraform, terraformWorkDir } from '../support/terraform.js';

const HAVE_TERRAFORM = requireTerraform('the Terraform example test');

const EXAMPLE = new URL('../../terraform/examples/basic/main.tf', import.meta.url);
const DB_PASSWORD = 'example-pw-3b9f-never-in-state';

let server: TestServer;
let kms: KMSClient;
let sm: SecretsManagerClient;
let work: string;

async function terraform(args: string[]): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await startTerraform(work, [...args, '-no-color'], {
    HOME: work,
    TF_CLI_CONFIG_FILE: join(work, 'terraformrc'),
    TF_HTTP_PASSWORD: server.admin.token,
    KEYSAFE_TOKEN: server.admin.token,
    TF_VAR_keysafe_address: server.url,
    TF_VAR_db_password: DB_PASSWORD,
  }).done;
  return { code, out: stdout + stderr };
}

async function ok(args: string[]): Promise<string> {
  const run = await terraform(args);
  if (run.code !== 0) throw new Error(`terraform ${args.join(' ')} exited ${run.code}:\n${run.out}`);
  return run.out;
}

async function storedState(): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}/v1/terraform/state/basic`, {
    headers: { authorization: `Bearer ${server.admin.token}` },
  });
  return { status: res.status, text: await res.text() };
}

describe.skipIf(!HAVE_TERRAFORM)('terraform example basic', () => {
  beforeAll(async () => {
    server = await startTestServer();
    kms = server.kmsClient();
    sm = server.secretsClient();
    ({ dir: work } = terraformWorkDir('keysafe-tf-example-', { install: true }));
    copyFileSync(EXAMPLE, join(work, 'main.tf'));
  });

  afterAll(async () => {
    kms?.destroy();
    sm?.destroy();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('applies the basic example with its state in the http backend, then destroys it', async () => {
    const state = `${server.url}/v1/terraform/state/basic`;
    await ok([
      'init',
      '-input=false',
      `-backend-config=address=${state}`,
      `-backend-config=lock_address=${state}`,
      `-backend-config=unlock_address=${state}`,
    ]);
    const apply = await ok(['apply', '-auto-approve', '-input=false']);
    expect(apply).toContain('Apply complete! Resources: 4 added, 0 changed, 0 destroyed.');
    expect(apply).not.toContain(DB_PASSWORD);

    const outputs = JSON.parse(await ok(['output', '-json'])) as Record<string, { value: string }>;
    expect(outputs.kms_key_arn?.value).toMatch(/^arn:aws:kms:us-east-1:\d{12}:key\/[0-9a-f-]{36}$/);
    expect(outputs.kms_alias_arn?.value).toMatch(/:alias\/orders$/);
    expect(outputs.db_secret_arn?.value).toMatch(
      /^arn:aws:secretsmanager:us-east-1:\d{12}:secret:orders\/db-password-/,
    );
    expect(outputs.role_arn?.value).toMatch(/role\/orders-api$/);

    // State lives in the server (nothing local), without the write-only value.
    const stored = await storedState();
    expect(stored.status).toBe(200);
    expect(stored.text).toContain(outputs.db_secret_arn!.value);
    expect(stored.text).not.toContain(DB_PASSWORD);

    const key = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/orders' }))).KeyMetadata!;
    expect(outputs.kms_key_arn?.value).toBe(key.Arn);
    const rotation = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
    expect(rotation.KeyRotationEnabled).toBe(true);
    expect(rotation.RotationPeriodInDays).toBe(90);
    const secret = await sm.send(new DescribeSecretCommand({ SecretId: 'orders/db-password' }));
    expect(secret.KmsKeyId).toBe(key.Arn);
    expect(secret.RotationEnabled).toBe(true);
    expect(secret.RotationLambdaARN).toBe('keysafe:rotation:random-password?length=32');
    expect(secret.RotationRules?.ScheduleExpression).toBe('rate(30 days)');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'orders/db-password' }))).SecretString).toBe(
      DB_PASSWORD,
    );

    const plan = await terraform(['plan', '-input=false', '-detailed-exitcode']);
    expect(plan.out).toContain('No changes.');
    expect(plan.code).toBe(0);

    const destroy = await ok(['destroy', '-auto-approve', '-input=false']);
    expect(destroy).toContain('Destroy complete! Resources: 4 destroyed.');
    expect((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.KeyState).toBe(
      'PendingDeletion',
    );
    // recovery_window_in_days = 7: scheduled for deletion, restorable for a week.
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'orders/db-password' }))).DeletedDate).toBeInstanceOf(
      Date,
    );
  });
});
