// STS on POST / (query protocol: form-encoded in, XML out): AssumeRoleWithWebIdentity and
// GetCallerIdentity, so AWS SDKs configured by AWS_WEB_IDENTITY_TOKEN_FILE talk to Keysafe as is.
import type { Identity, Login, RoleIdentity, Sessions, StsCredentials } from '../auth/index.js';
import { AppError } from '../core/errors.js';
import { statusOf, stsCodeOf } from '../core/http-errors.js';
import { sha256Hex } from '../crypto/index.js';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

export interface StsDeps {
  login: Login;
  sessions: Sessions;
  accountId: string;
  /** The issuer URL and first audience of a role, for the answer's Provider and Audience. */
  issuerOf: (role: string) => { issuer: string; audience: string } | undefined;
}

export interface StsAnswer {
  xml: string;
  /** The identity the request acted as (the new session's, for AssumeRoleWithWebIdentity). */
  identity?: Identity;
  resource?: string;
}

/** The request's RoleArn when it is one (the audit record's resource), never other text it sent. */
export function requestedRoleArn(form: URLSearchParams): string | undefined {
  const arn = form.get('RoleArn') ?? '';
  return ROLE_ARN.test(arn) ? arn : undefined;
}

export type StsAction = 'AssumeRoleWithWebIdentity' | 'GetCallerIdentity';

export function stsAction(form: URLSearchParams): StsAction {
  const action = form.get('Action');
  if (action === 'AssumeRoleWithWebIdentity' || action === 'GetCallerIdentity') return action;
  throw new AppError(
    'UnknownOperationException',
    'Could not find operation; Keysafe STS answers AssumeRoleWithWebIdentity and GetCallerIdentity.',
  );
}

export async function assumeRoleWithWebIdentity(
  deps: StsDeps,
  form: URLSearchParams,
  source: string,
  requestId: string,
): Promise<StsAnswer> {
  const roleArn = form.get('RoleArn') ?? '';
  const token = form.get('WebIdentityToken') ?? '';
  const sessionName = form.get('RoleSessionName') ?? undefined;
  const m = ROLE_ARN.exec(roleArn);
  if (!m || m[1] !== deps.accountId) {
    throw new AppError('ValidationException', `RoleArn must be arn:aws:iam::${deps.accountId}:role/<name>.`);
  }
  if (token.length < 4 || token.length > 20_000) {
    throw new AppError('ValidationException', 'WebIdentityToken must be 4 to 20000 characters.');
  }
  if (sessionName !== undefined && !SESSION_NAME.test(sessionName)) {
    throw new AppError('ValidationException', 'RoleSessionName must be 2 to 64 characters of [\\w+=,.@-].');
  }
  const duration = form.get('DurationSeconds');
  const seconds = duration === null ? undefined : Number(duration);
  if (seconds !== undefined && !(Number.isInteger(seconds) && seconds >= 900 && seconds <= 43_200)) {
    throw new AppError('ValidationException', 'DurationSeconds must be an integer from 900 to 43200.');
  }
  const role = m[2]!;
  const session = await deps.login.login({ role, jwt: token, source, ...(sessionName && { sessionName }) });
  // The role's session TTL is the ceiling, as a role's MaxSessionDuration is in IAM.
  if (seconds !== undefined) session.ttlMs = Math.min(session.ttlMs, seconds * 1000);
  const { credentials, identity } = await deps.sessions.assumeRole(session);
  const provider = deps.issuerOf(role);
  const xml = respond(
    'AssumeRoleWithWebIdentity',
    `<SubjectFromWebIdentityToken>${esc(identity.subject)}</SubjectFromWebIdentityToken>` +
      (provider ? `<Audience>${esc(provider.audience)}</Audience>` : '') +
      `<AssumedRoleUser><Arn>${esc(identity.arn)}</Arn><AssumedRoleId>${esc(assumedRoleId(identity))}</AssumedRoleId></AssumedRoleUser>` +
      credentialsXml(credentials) +
      (provider ? `<Provider>${esc(provider.issuer)}</Provider>` : ''),
    requestId,
  );
  return { xml, identity, resource: roleArn };
}

export function getCallerIdentity(deps: StsDeps, identity: Identity, requestId: string): StsAnswer {
  const userId = identity.kind === 'admin' ? deps.accountId : assumedRoleId(identity);
  const xml = respond(
    'GetCallerIdentity',
    `<Arn>${esc(identity.arn)}</Arn><UserId>${esc(userId)}</UserId><Account>${deps.accountId}</Account>`,
    requestId,
  );
  return { xml, identity };
}

/** AROA + a stable id for the role, then the session name, as IAM shapes it. */
function assumedRoleId(identity: RoleIdentity): string {
  const id = sha256Hex(identity.roleArn).slice(0, 17).toUpperCase();
  return `AROA${id}:${identity.sessionName}`;
}

function credentialsXml(c: StsCredentials): string {
  return (
    `<Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId><SecretAccessKey>${esc(c.secretAccessKey)}</SecretAccessKey>` +
    `<SessionToken>${esc(c.sessionToken)}</SessionToken><Expiration>${new Date(c.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration></Credentials>`
  );
}

function respond(action: string, result: string, requestId: string): string {
  return (
    `<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

// STS's own names for the errors it shares with Keysafe's other APIs.
/** The query protocol's error envelope and its status. */
export function stsError(error: AppError, requestId: string): { status: number; xml: string } {
  const status = statusOf(error, 'sts');
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return {
    status,
    xml:
      `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${stsCodeOf(error)}</Code>` +
      `<Message>${esc(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
