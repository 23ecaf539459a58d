// The Terraform bridge's public surface: the http state backend (routes live in server/terraform-routes.ts).

// The Terraform provider lives in provider/ (public surface provider/index.ts, process entry provider/main.ts).
// Only its types are re-exported here, so the server does not load gRPC and msgpack at start.
export type { Diagnostic, ProviderDefinition } from './provider/index.js';
export {
  createTerraformStateBackend,
  isValidStateName,
  type LockInfo,
  parseLockInfo,
  TERRAFORM_KMS_ALIAS,
  type TerraformStateBackend,
  type TerraformStateBackendDeps,
} from './state-backend.js';
export type {
  TerraformLockRecord,
  TerraformPutResult,
  TerraformStateStore,
  TerraformStateVersionInfo,
  TerraformStateVersionRecord,
  TerraformUnlockResult,
} from './store.js';
