// A real server that trusts a real local OIDC issuer, with one workload role: the setup most
// workload-identity and agent tests share.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type OidcIssuer, startOidcIssuer } from './oidc-issuer.js';
import { startTestServer, type TestServer } from './server.js';

export interface WorkloadServer {
  issuer: OidcIssuer;
  server: TestServer;
  /** A Secrets Manager client signing as the admin. */
  admin: SecretsManagerClient;
  stop(): Promise<void>;
}

export interface WorkloadOptions {
  /** The role `web`'s bound subjects (default the shop/web service account). */
  subjects?: string[];
  claims?: Record<string, string>;
  /** The role's policy statements (default: GetSecretValue on app/*). */
  statements?: object[];
  env?: NodeJS.ProcessEnv;
  /** More server config (e.g. a short watchHeartbeatMs). */
  config?: object;
}

export const APP_SECRETS_READER = {
  Effect: 'Allow',
  Action: 'secretsmanager:GetSecretValue',
  Resource: 'arn:aws:secretsmanager:*:*:secret:app/*',
};

export async function startWorkloadServer(options: WorkloadOptions = {}): Promise<WorkloadServer> {
  const issuer = await startOidcIssuer();
  const server = await startTestServer({
    config: {
      ...options.config,
      issuers: [{ name: 'cluster', issuer: issuer.url, audiences: ['keysafe'], discovery: true }],
      roles: [
        {
          name: 'web',
          issuer: 'cluster',
          subjects: options.subjects ?? ['system:serviceaccount:shop:web'],
          ...(options.claims && { claims: options.claims }),
          policy: { Version: '2012-10-17', Statement: options.statements ?? [APP_SECRETS_READER] },
        },
      ],
    },
    ...(options.env && { env: options.env }),
  });
  const admin = new SecretsManagerClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: server.admin.accessKeyId, secretAccessKey: server.admin.secretAccessKey },
  });
  return {
    issuer,
    server,
    admin,
    async stop() {
      await server.stop();
      await issuer.stop();
    },
  };
}
