// A secret version's value as Secrets Manager carries it: the secrets engine stores it, the agent renders it.

/**
 * SecretString or SecretBinary (the bytes, base64 on the wire): exactly one for a stored version.
 * The engine seals and opens it; the agent decodes it from a GetSecretValue answer and renders it.
 */
export interface SecretValue {
  string?: string;
  binary?: Buffer;
}
