// An app using the AWS SDK directly, configured only by environment variables, as on EKS with IRSA:
//
//   AWS_WEB_IDENTITY_TOKEN_FILE   the workload's JWT (in a pod, the projected service-account token)
//   AWS_ROLE_ARN                  arn:aws:iam::000000000000:role/<Keysafe role name>
//   AWS_ENDPOINT_URL              the Keysafe server
//   AWS_REGION                    the region whose secrets it reads (Keysafe serves any; us-east-1 is its default)
//
// The SDK's default credential chain exchanges the JWT for temporary credentials with STS
// AssumeRoleWithWebIdentity (served by Keysafe), signs GetSecretValue with them, and renews them
// before they expire. No agent involved: the code is exactly what runs against AWS. See ../README.md
// for the command line against `npm start`.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

const secretId = process.env.SECRET_ID ?? 'keysafe-demo/db';
const sm = new SecretsManagerClient({});
const secret = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
const db = JSON.parse(secret.SecretString);

// A real app would open its connection pool here.
console.log(`app: ${secret.Name} version ${secret.VersionId}`);
console.log(`app: connecting to postgres://${db.username}:${db.password}@localhost/app`);
