// The agent endpoint's query strings as the AWS Secrets Manager Agent reads them (parse.rs): which
// parameters, their decoding, and its 400 messages. No HTTP framework here.

export interface SecretVersionQuery {
  versionId?: string;
  versionStage?: string;
}

/** What `?a=b&…` asked for, or the AWS agent's 400 message. */
export interface SecretQuery extends SecretVersionQuery {
  secretId?: string;
}

export const NO_VERSION: SecretVersionQuery = Object.freeze({});

/** Only what the source needs to pick a version; the shared empty object for AWSCURRENT. */
export function versionQuery({ versionId, versionStage }: SecretQuery): SecretVersionQuery {
  if (versionId === undefined) return versionStage === undefined ? NO_VERSION : { versionStage };
  return versionStage === undefined ? { versionId } : { versionId, versionStage };
}

/**
 * The query of `url` as the AWS agent reads it: secretId (lambda style only), versionId, versionStage,
 * refreshNow (validated, then ignored: pushed changes keep the agent current). Last occurrence wins.
 * Returns the AWS agent's 400 message for anything else.
 */
export function parseQuery(url: string, allowSecretId: boolean): SecretQuery | string {
  const q = url.indexOf('?');
  const out: SecretQuery = {};
  if (q === -1) return out;
  let start = q + 1;
  while (start <= url.length) {
    let end = url.indexOf('&', start);
    if (end === -1) end = url.length;
    if (end > start) {
      const eq = url.indexOf('=', start);
      const hasValue = eq !== -1 && eq < end;
      const key = decodeComponent(url.slice(start, hasValue ? eq : end));
      const value = hasValue ? decodeComponent(url.slice(eq + 1, end)) : '';
      if (key === undefined || value === undefined) return 'malformed query';
      if (key === 'secretId' && allowSecretId) out.secretId = value;
      else if (key === 'versionId') out.versionId = value;
      else if (key === 'versionStage') out.versionStage = value;
      else if (key === 'refreshNow') {
        if (!/^(true|false|1|0)$/i.test(value)) return 'invalid refreshNow value';
      } else return `unknown parameter: ${key.slice(0, 64)}`;
    }
    start = end + 1;
  }
  return out;
}

function decodeComponent(s: string): string | undefined {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
