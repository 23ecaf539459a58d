// A real server that trusts a real local OIDC issuer, with workload roles: the setup most workload-identity
// and agent tests share, and the config pieces (issuer, roles) for servers a test starts its own way.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Clock } from '../../src/core/clock.js';
import { type KubernetesTokenOptions, type OidcIssuer, startOidcIssuer } from './oidc-issuer.js';
import { secretsClient } from './sdk.js';
import { startTestServer, type TestServer } from './server.js';
import { sessionToken } from './session.js';

/** A role as the server config holds it, without its issuer (the trusted one). */
export interface WorkloadRole {
  name: string;
  subjects: string[];
  claims?: Record<string, string>;
  policy: object;
}

/** An identity policy document allowing or denying `statements`. */
export const policyOf = (statements: object[]) => ({ Version: '2012-10-17', Statement: statements });

export const APP_SECRETS_READER = {
  Effect: 'Allow',
  Action: 'secretsmanager:GetSecretValue',
  Resource: 'arn:aws:secretsmanager:*:*:secret:app/*',
};

export const SHOP_WEB_READER = {
  Effect: 'Allow',
  Action: ['secretsmanager:GetSecretValue'],
  Resource: ['arn:aws:secretsmanager:*:*:secret:shop/web/*'],
};

export const ANY_SECRET_READER = { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' };

export interface WebRoleOptions {
  /** The role's bound subjects (default the shop/web service account, whom `kubernetesToken()` speaks for). */
  subjects?: string[];
  claims?: Record<string, string>;
  /** The role's policy statements (default: GetSecretValue on app/*). */
  statements?: object[];
}

/** The role `web`. */
export function webRole(options: WebRoleOptions = {}): WorkloadRole {
  return {
    name: 'web',
    subjects: options.subjects ?? ['system:serviceaccount:shop:web'],
    ...(options.claims && { claims: options.claims }),
    policy: policyOf(options.statements ?? [APP_SECRETS_READER]),
  };
}

export interface TrustOptions {
  /** The issuer's name in the config (default `cluster`). */
  issuerName?: string;
  /** More issuer settings (clock skew, token bounds…). */
  issuerSettings?: object;
}

/** The `issuers` and `roles` of a server config trusting the OIDC issuer at `issuerUrl` for `roles`. */
export function trustConfig(issuerUrl: string, roles: WorkloadRole[], options: TrustOptions = {}) {
  const name = options.issuerName ?? 'cluster';
  return {
    issuers: [{ name, issuer: issuerUrl, audiences: ['keysafe'], discovery: true, ...options.issuerSettings }],
    roles: roles.map(({ name: role, ...rest }) => ({ name: role, issuer: name, ...rest })),
  };
}

export interface WorkloadServer {
  issuer: OidcIssuer;
  server: TestServer;
  /** A Secrets Manager client signing as the admin (with the SDK's retries). */
  admin: SecretsManagerClient;
  /** Logs in as `role` (default `web`) with a Kubernetes token made with `token`: the bearer token. */
  session(role?: string, token?: KubernetesTokenOptions, publicKey?: object): Promise<string>;
  stop(): Promise<void>;
}

export interface WorkloadOptions extends WebRoleOptions, TrustOptions {
  /** The roles (default the one role `webRole` makes of the options above). */
  roles?: WorkloadRole[];
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** More server config (e.g. a short watchHeartbeatMs). */
  config?: object;
}

export async function startWorkloadServer(options: WorkloadOptions = {}): Promise<WorkloadServer> {
  const issuer = await startOidcIssuer();
  const server = await startTestServer({
    config: { ...options.config, ...trustConfig(issuer.url, options.roles ?? [webRole(options)], options) },
    ...(options.clock && { clock: options.clock }),
    ...(options.env && { env: options.env }),
  });
  return {
    issuer,
    server,
    admin: secretsClient(server, { retries: true }),
    session: async (role = 'web', token = {}, publicKey?: object) =>
      sessionToken(server.url, { role, jwt: await issuer.kubernetesToken(token), ...(publicKey && { publicKey }) }),
    async stop() {
      await server.stop();
      await issuer.stop();
    },
  };
}
