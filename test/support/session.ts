// A workload's session over plain HTTP: the login that gives a bearer token, AWS JSON calls made with one,
// and STS web identity as the SDKs send it.
import { expect } from 'vitest';
import { roleArn } from './sdk.js';

export interface LoginRequest {
  role: string;
  jwt: string;
  /** An agent's key: values then come only as JWEs for it, on the agent API. */
  publicKey?: object;
}

/** POST /v1/auth/login, the answer as it came. */
export function login(url: string, request: LoginRequest): Promise<Response> {
  return fetch(`${url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
}

/** Logs in and returns the session's bearer token; any answer but 200 fails the test, showing the body. */
export async function sessionToken(url: string, request: LoginRequest): Promise<string> {
  const res = await login(url, request);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return (JSON.parse(text) as { token: string }).token;
}

/** An AWS JSON 1.1 call (`secretsmanager.GetSecretValue`, `TrentService.Encrypt`…) with a bearer token. */
export function bearerCall(
  url: string,
  token: string,
  target: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'x-amz-target': target,
      'content-type': 'application/x-amz-json-1.1',
      ...headers,
    },
    body: JSON.stringify(input),
  });
}

/** STS AssumeRoleWithWebIdentity over the query protocol, as the SDKs send it, as plain HTTP. */
export function webIdentityRequest(url: string, role: string, sessionName: string, jwt: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: roleArn(role),
      RoleSessionName: sessionName,
      WebIdentityToken: jwt,
    }).toString(),
  });
}
