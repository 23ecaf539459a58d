// A Node app that reads its database secret from the Keysafe agent's localhost endpoint.
//
// The request is the one code written for the AWS Secrets Manager Agent (or the AWS Parameters and
// Secrets Lambda extension) makes: GET /secretsmanager/get?secretId=… with the local token in the
// X-Aws-Parameters-Secrets-Token header, answered with GetSecretValue's JSON. Such code works unchanged.
//
//   node examples/node-endpoint/app.mjs          (with `npm start` running in another shell)
//
// Environment (all optional):
//   SECRET_ID           the secret to read (default: keysafe-demo/db, the demo secret of `npm start`)
//   AGENT_ENDPOINT      the agent (default: http://127.0.0.1:2773, the AWS agent's port too)
//   AWS_TOKEN           the endpoint token, or file:///path to read it from, as the AWS agent takes it
//                       (default: file://…/keysafe-dev/agent/local-token, written by `npm start`)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const secretId = process.env.SECRET_ID ?? 'keysafe-demo/db';
const endpoint = process.env.AGENT_ENDPOINT ?? 'http://127.0.0.1:2773';
const tokenSetting = process.env.AWS_TOKEN ?? new URL('../../keysafe-dev/agent/local-token', import.meta.url).href;
// The token proves the caller runs beside the agent (it guards against SSRF); it is not a credential
// to the server. Read it from a file when given as file://.
const token = tokenSetting.startsWith('file://')
  ? readFileSync(fileURLToPath(tokenSetting), 'utf8').trim()
  : tokenSetting;

const res = await fetch(`${endpoint}/secretsmanager/get?secretId=${encodeURIComponent(secretId)}`, {
  headers: { 'X-Aws-Parameters-Secrets-Token': token },
});
if (!res.ok) {
  // Errors carry no secret value: 403 Bad Token, or the AWS error JSON ({"__type","message"}).
  console.error(`app: the agent answered ${res.status}: ${await res.text()}`);
  process.exit(1);
}
const secret = await res.json(); // { ARN, Name, VersionId, SecretString, VersionStages, CreatedDate }
const db = JSON.parse(secret.SecretString);

// A real app would open its connection pool here. The agent keeps the value current (it follows
// rotations as they happen), so asking again on a reconnect or after an auth failure is cheap.
console.log(`app: ${secret.Name} version ${secret.VersionId}`);
console.log(`app: connecting to postgres://${db.username}:${db.password}@localhost/app`);
