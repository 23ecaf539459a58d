// The auth domain's public surface: workload identity, sessions, policies and SigV4.
export { type AccessRequest, type Decision, decide, grantCaller } from './authorize.js';
export { createDirectory, type Directory } from './directory.js';
export {
  type AdminIdentity,
  adminIdentity,
  assumedRoleArn,
  type Identity,
  type RoleIdentity,
  roleArn,
} from './identity.js';
export {
  type ApiIssuerConfig,
  apiIssuerSchema,
  ISSUER_DEFAULTS,
  type IssuerConfig,
  issuerSchema,
} from './issuer-config.js';
export { accountRootAllowed } from './lockout.js';
export { createLogin, LOGIN_LIMITS, type Login } from './login.js';
export { compilePolicy, type PolicyKind, policyProblems } from './policy.js';
export { type RoleConfig, roleSchema } from './roles.js';
export { type AgentPublicKey, createSessions, type Sessions, type StsCredentials } from './sessions.js';
export { type HeaderReader, isSigV4, type SignedRequest, type SigV4Caller, verifySigV4 } from './sigv4.js';
export type { AuthEntry, AuthEntryKind, AuthStore } from './store.js';
