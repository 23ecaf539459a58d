// The Keysafe Terraform provider's public surface (tfplugin6 over go-plugin). The process entry point is main.ts.
export { KeysafeApiError, KeysafeClient } from './client.js';
export { type CtyType, type CtyValue, decodeDynamic, encodeValue, UNKNOWN } from './cty.js';
export { type Diagnostic, DiagnosticError, type ProviderDefinition, type ResourceDefinition } from './definitions.js';
export { createProviderHandlers } from './framework.js';
export { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, servePlugin } from './host.js';
export { DEFAULT_ADDRESS, keysafeProvider } from './provider.js';
