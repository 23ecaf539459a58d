// AWS SDK v3 clients pointed at a test server (endpoint, region, credentials), STS web identity through
// the SDK's own STS client, and the error a failed SDK call carries.
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandOutput,
  STSClient,
} from '@aws-sdk/nested-clients/sts';
import type { AwsCredentialIdentity } from '@smithy/types';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';

export const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** A server the SDK can reach: its URL and an access key (the admin's, or one shared between replicas). */
export interface SdkTarget {
  url: string;
  admin: { accessKeyId: string; secretAccessKey: string };
}

export interface SdkOptions {
  /** Sign as someone else than `target.admin` (STS credentials, a wrong secret…). */
  credentials?: AwsCredentialIdentity;
  /**
   * Keep the SDK's own retries (3 attempts). Off by default: one attempt per call, so a fault or a
   * refusal surfaces instead of being retried away.
   */
  retries?: boolean;
}

function clientConfig(target: SdkTarget, options: SdkOptions) {
  const { accessKeyId, secretAccessKey } = target.admin;
  return {
    endpoint: target.url,
    region: REGION,
    credentials: options.credentials ?? { accessKeyId, secretAccessKey },
    ...(!options.retries && { maxAttempts: 1 }),
  };
}

export const secretsClient = (target: SdkTarget, options: SdkOptions = {}) =>
  new SecretsManagerClient(clientConfig(target, options));

export const kmsClient = (target: SdkTarget, options: SdkOptions = {}) => new KMSClient(clientConfig(target, options));

/** Both clients, signing alike. */
export function sdkClients(
  target: SdkTarget,
  options: SdkOptions = {},
): { kms: KMSClient; secrets: SecretsManagerClient } {
  return { kms: kmsClient(target, options), secrets: secretsClient(target, options) };
}

/** The SDK's STS client on `url`, unsigned as AssumeRoleWithWebIdentity is, one attempt per call. */
export const stsClient = (url: string) => new STSClient({ endpoint: url, region: REGION, maxAttempts: 1 });

/** AssumeRoleWithWebIdentity for `role` with `jwt`: the answer and its credentials, ready for a client. */
export async function assumeRole(
  url: string,
  role: string,
  sessionName: string,
  jwt: string,
): Promise<{ output: AssumeRoleWithWebIdentityCommandOutput; credentials: AwsCredentialIdentity }> {
  const output = await stsClient(url).send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: roleArn(role),
      RoleSessionName: sessionName,
      WebIdentityToken: jwt,
    }),
  );
  const c = output.Credentials!;
  return {
    output,
    credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! },
  };
}

/** The error an SDK call failed with: its code (name), HTTP status and message. */
export async function failure(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
  throw new Error('expected the call to fail');
}

/**
 * Replaces the client's SigV4 signature by the admin's bearer token: SigV4 carries the wall-clock
 * time, so a server on a moved manual clock would refuse it as skewed.
 */
export function withBearer<C extends KMSClient>(client: C, token: string): C {
  client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers: Record<string, string> };
      for (const h of Object.keys(req.headers)) if (h.toLowerCase() === 'authorization') delete req.headers[h];
      req.headers.authorization = `Bearer ${token}`;
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'bearer' },
  );
  return client;
}
