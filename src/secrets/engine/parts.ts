// What the secrets engine's operations share (its ports, the envelope, lookups, the write path), and binding them.
import type { Clock } from '../../core/clock.js';
import type { KmsEngine } from '../../kms/index.js';
import type { SecretEnvelope } from '../envelope.js';
import type { SecretsStore } from '../store.js';
import type { SecretCommits } from './commit.js';
import type { SecretLookup } from './lookup.js';

export interface EngineParts {
  store: SecretsStore;
  kms: KmsEngine;
  clock: Clock;
  envelope: SecretEnvelope;
  lookup: SecretLookup;
  commits: SecretCommits;
}

/** Binds the parts to operations written as functions of them: the operations as the engine offers them. */
export function partsBinder(parts: EngineParts) {
  return <A extends unknown[], R>(operation: (parts: EngineParts, ...args: A) => R): ((...args: A) => R) =>
    (...args) =>
      operation(parts, ...args);
}
