// A server with workload roles that have no KMS permission of their own, and KMS clients acting as each:
// what the grant tests (integration and security) start from.
import type { KMSClient } from '@aws-sdk/client-kms';
import { assumeRole, kmsClient, roleArn } from './sdk.js';
import { policyOf, startWorkloadServer, type WorkloadServer } from './workload.js';

/** Each role may read one secret prefix and list retirable grants, and do nothing with any key: only grants let it. */
const roleWithoutKms = (name: string) => ({
  name,
  subjects: [`system:serviceaccount:grants:${name}`],
  policy: policyOf([
    {
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: `arn:aws:secretsmanager:*:*:secret:${name}/*`,
    },
    { Effect: 'Allow', Action: 'kms:ListRetirableGrants', Resource: '*' },
  ]),
});

export interface GrantServer {
  ws: WorkloadServer;
  admin: KMSClient;
  /** A KMS client signing with STS credentials of `role`. */
  as(role: string): Promise<KMSClient>;
  arn: (role: string) => string;
}

export async function startGrantServer(roles: string[]): Promise<GrantServer> {
  const ws = await startWorkloadServer({ roles: roles.map(roleWithoutKms) });
  return {
    ws,
    admin: kmsClient(ws.server),
    async as(role) {
      const jwt = await ws.issuer.kubernetesToken({ namespace: 'grants', serviceAccount: role });
      const { credentials } = await assumeRole(ws.server.url, role, `${role}-session`, jwt);
      return kmsClient(ws.server, { credentials });
    },
    arn: roleArn,
  };
}
