// KMS identifiers: key ids, key and alias ARNs, and parsing what a caller passed as KeyId.

export interface Partition {
  region: string;
  accountId: string;
}

/** A region name as AWS spells them (us-east-1, eu-central-2, us-gov-west-1): config, headers and stores check it. */
export const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** A key id: a UUID, or a multi-Region key's `mrk-` and 32 hexadecimal digits. */
const UUID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;

/** Whether a key id names a multi-Region key (AWS gives them, and only them, the `mrk-` prefix). */
export const isMultiRegionKeyId = (keyId: string): boolean => keyId.startsWith('mrk-');

export const keyArn = (p: Partition, keyId: string): string => `arn:aws:kms:${p.region}:${p.accountId}:key/${keyId}`;
export const aliasArn = (p: Partition, aliasName: string): string =>
  `arn:aws:kms:${p.region}:${p.accountId}:${aliasName}`;

export type KeyRef =
  | { kind: 'key'; keyId: string }
  | { kind: 'alias'; name: string }
  /** A well-formed key or alias ARN of another region or account: nothing there is served here. */
  | { kind: 'elsewhere'; arn: string; region: string; accountId: string; resource: 'key' | 'alias' }
  | { kind: 'invalid' };

const KMS_ARN = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key\/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias\/.+)$/;

/** Classifies a KeyId parameter: key id, key ARN, alias name or alias ARN (ARNs of this partition, or elsewhere). */
export function parseKeyRef(p: Partition, value: string): KeyRef {
  if (UUID.test(value)) return { kind: 'key', keyId: value };
  if (value.startsWith('alias/')) return { kind: 'alias', name: value };
  const prefix = `arn:aws:kms:${p.region}:${p.accountId}:`;
  if (value.startsWith(prefix)) {
    const rest = value.slice(prefix.length);
    if (rest.startsWith('key/') && UUID.test(rest.slice(4))) return { kind: 'key', keyId: rest.slice(4) };
    if (rest.startsWith('alias/')) return { kind: 'alias', name: rest };
  }
  const m = KMS_ARN.exec(value);
  if (m && REGION_NAME.test(m[1]!) && (!m[3]!.startsWith('key/') || UUID.test(m[3]!.slice(4)))) {
    const resource = m[3]!.startsWith('key/') ? 'key' : 'alias';
    return { kind: 'elsewhere', arn: value, region: m[1]!, accountId: m[2]!, resource };
  }
  return { kind: 'invalid' };
}
