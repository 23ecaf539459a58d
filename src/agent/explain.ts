// How the agent names a failure in its logs and readiness: code and message, never a value.
import { AppError } from '../core/errors.js';

/** An error for logs and readiness: code and message, never a value (our errors carry none). */
export function explain(e: unknown): string {
  if (e instanceof AppError) return `${e.code}: ${e.message}`;
  return (e as Error)?.message ?? String(e);
}

/** The server refused the session (expired or unknown): the agent must log in again. */
export function isSessionRefused(e: unknown): boolean {
  return e instanceof AppError && (e.code === 'UnrecognizedClientException' || e.code === 'ExpiredTokenException');
}
