// The agent domain's public surface: the sidecar, its config, and `keysafe exec`'s rendering.
export type { SecretValue } from '../core/secret-value.js';
export { type AgentStatus, type CachedSecret, type RunningAgent, startAgent, syncOnce } from './agent.js';
export { type AgentConfig, isLoopbackHost, loadAgentConfig, parseAgentConfig } from './config.js';
export { createAgentEndpoint } from './endpoint.js';
export { LOCAL_TOKEN_MODE, loadLocalToken } from './local-token.js';
export { envFor } from './render.js';
