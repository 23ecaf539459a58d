// The Terraform bridge's public surface: the http state backend (routes live in server/terraform-routes.ts).
export {
  createTerraformStateBackend,
  isValidStateName,
  type LockInfo,
  parseLockInfo,
  TERRAFORM_KMS_ALIAS,
  type TerraformStateBackend,
  type TerraformStateBackendDeps,
} from './state-backend.js';
