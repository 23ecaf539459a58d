// The keys, ciphertexts and import parameters the KMS error-shape table's requests are made from, on a fresh server.
import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { type Call, succeed } from './error-shapes.js';

export const MSG = 'aGk=';
export const ECDSA = 'ECDSA_SHA_256';
export const HMAC = 'HMAC_SHA_256';
export const GRANTEE = 'arn:aws:iam::000000000000:role/shapes';
export const WRAPPING = { WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' };

/** Keys in each state the producers need, and ciphertexts under them. */
export interface Fixtures {
  sym: string;
  /** A multi-Region primary key, never replicated. */
  mrk: string;
  disabled: string;
  pending: string;
  sign: string;
  signDisabled: string;
  signPending: string;
  mac: string;
  macDisabled: string;
  macPending: string;
  blob: string;
  blobDisabled: string;
  blobPending: string;
  signature: string;
  macValue: string;
  grantId: string;
  /** KEY_AGREEMENT ECC_NIST_P256 keys, and a peer's P-256 public key (SPKI DER). */
  agree: string;
  agreeDisabled: string;
  agreePending: string;
  peerKey: string;
  /** EXTERNAL keys, pending import and pending deletion; an import token for `external` and material wrapped for it. */
  external: string;
  externalPending: string;
  importToken: string;
  wrapped: string;
  /** 16 bytes wrapped for `external`: a symmetric key's material is 32. */
  wrappedShort: string;
}

/** Makes the fixtures on a fresh server through `call`. */
export async function kmsShapeFixtures(call: Call): Promise<Fixtures> {
  const ok = (op: string, input: object) => succeed(call, `TrentService.${op}`, input);
  const newKey = async (input: object) => (await ok('CreateKey', input)).KeyMetadata.KeyId;
  const sign = { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' };
  const mac = { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' };
  const keys = {
    sym: await newKey({}),
    mrk: await newKey({ MultiRegion: true }),
    disabled: await newKey({}),
    pending: await newKey({}),
    sign: await newKey(sign),
    signDisabled: await newKey(sign),
    signPending: await newKey(sign),
    mac: await newKey(mac),
    macDisabled: await newKey(mac),
    macPending: await newKey(mac),
  };
  const blobOf = async (KeyId: string) => (await ok('Encrypt', { KeyId, Plaintext: MSG })).CiphertextBlob as string;
  const blobs = {
    blob: await blobOf(keys.sym),
    blobDisabled: await blobOf(keys.disabled),
    blobPending: await blobOf(keys.pending),
  };
  const signature = (await ok('Sign', { KeyId: keys.sign, Message: MSG, SigningAlgorithm: ECDSA })).Signature as string;
  const macValue = (await ok('GenerateMac', { KeyId: keys.mac, Message: MSG, MacAlgorithm: HMAC })).Mac as string;
  for (const k of [keys.disabled, keys.signDisabled, keys.macDisabled]) await ok('DisableKey', { KeyId: k });
  for (const k of [keys.pending, keys.signPending, keys.macPending]) await ok('ScheduleKeyDeletion', { KeyId: k });
  await ok('CreateAlias', { AliasName: 'alias/shapes', TargetKeyId: keys.sym });
  const grant = await ok('CreateGrant', { KeyId: keys.sym, GranteePrincipal: GRANTEE, Operations: ['Decrypt'] });
  const more = { ...(await agreementFixtures(newKey, ok)), ...(await importFixtures(newKey, ok)) };
  return { ...keys, ...blobs, signature, macValue, grantId: grant.GrantId as string, ...more };
}

type Ok = (op: string, input: object) => ReturnType<typeof succeed>;
type NewKey = (input: object) => Promise<string>;

/** KEY_AGREEMENT keys enabled, disabled and pending deletion, and a peer's public key on their curve. */
async function agreementFixtures(newKey: NewKey, ok: Ok) {
  const agreement = { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' };
  const [agree, agreeDisabled, agreePending] = [
    await newKey(agreement),
    await newKey(agreement),
    await newKey(agreement),
  ];
  await ok('DisableKey', { KeyId: agreeDisabled });
  await ok('ScheduleKeyDeletion', { KeyId: agreePending });
  const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
  const peerKey = peer.export({ format: 'der', type: 'spki' }).toString('base64');
  return { agree, agreeDisabled, agreePending, peerKey };
}

/** EXTERNAL keys pending import and pending deletion; `external`'s import token and material wrapped for it. */
async function importFixtures(newKey: NewKey, ok: Ok) {
  const external = await newKey({ Origin: 'EXTERNAL' });
  const externalPending = await newKey({ Origin: 'EXTERNAL' });
  await ok('ScheduleKeyDeletion', { KeyId: externalPending });
  const params = await ok('GetParametersForImport', { KeyId: external, ...WRAPPING });
  const publicKey = createPublicKey({
    key: Buffer.from(String(params.PublicKey), 'base64'),
    format: 'der',
    type: 'spki',
  });
  const wrap = (bytes: number) =>
    publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      randomBytes(bytes),
    ).toString('base64');
  return {
    external,
    externalPending,
    importToken: String(params.ImportToken),
    wrapped: wrap(32),
    wrappedShort: wrap(16),
  };
}
