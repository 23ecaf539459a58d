// The injector domain's public surface: annotations, the pure pod mutation, the webhook, and offline inject.
export {
  AnnotationError,
  INJECT,
  type InjectionSpec,
  PREFIX,
  parseAnnotations,
  STATUS,
  STATUS_INJECTED,
  wantsInjection,
} from './annotations.js';
export { injectYaml, podOf } from './inject.js';
export { applyPatch } from './json-patch.js';
export {
  AGENT_CONTAINER,
  AGENT_PORT,
  CONFIG_ENV,
  INJECTOR_DEFAULTS,
  type InjectorDefaults,
  mutate,
  type PatchOperation,
  type PodLike,
  readyProbeCommand,
  SECRETS_DIR,
  SECRETS_VOLUME,
  TOKEN_DIR,
  TOKEN_VOLUME,
} from './mutate.js';
export { type RunningInjector, review, startInjector } from './webhook.js';
