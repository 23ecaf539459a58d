// Messages between the benchmark process and its HTTP load-generator child (bench/loadgen.ts).

export interface LoadTarget {
  host: string;
  port: number;
  /** Request path; '/' (the AWS JSON endpoint) when absent. */
  path?: string;
  /** When non-empty, each request goes to one of these paths instead of `path`, picked at random. */
  paths?: readonly string[];
  /** Request method; POST when absent. A GET or HEAD with an empty body carries no content-length. */
  method?: string;
  /** Request headers besides content-length (which the generator adds). Lowercase names. */
  headers: Record<string, string>;
  body: string;
  /** When non-empty, each request carries one of these instead of `body`, picked at random. */
  bodies?: readonly string[];
}

export interface SigV4Signing {
  accessKeyId: string;
  secretAccessKey: string;
  /** STS temporary credentials: sent as X-Amz-Security-Token and signed with the rest. */
  sessionToken?: string;
  region: string;
  service: string;
}

export interface RunCommand {
  type: 'run';
  id: number;
  target: LoadTarget;
  /** When given, every request is SigV4-signed just before it is sent (the signing is client CPU). */
  sigv4?: SigV4Signing;
  connections: number;
  warmupMs: number;
  durationMs: number;
}

export type Command = RunCommand | { type: 'exit' };

/** firstError prefix of a SigV4 run whose signer could not be loaded. */
export const SIGNER_UNAVAILABLE = 'signer unavailable';

export interface RunResult {
  type: 'result';
  id: number;
  /** Responses completed inside the measured window. */
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Non-200 responses and socket errors (any at all makes the run invalid). */
  errors: number;
  firstError?: string;
  /** The body of one 200 response, for the caller to validate. */
  sampleBody?: string;
  /** CPU the load generator used during the window (user+system, ms). */
  clientCpuMs: number;
  reconnects: number;
}

/** Sent by the child when the measured window starts and ends, so the parent can read its CPU use. */
export interface WindowEvent {
  type: 'window';
  id: number;
  phase: 'start' | 'end';
}

export type ChildMessage = RunResult | WindowEvent | { type: 'ready' };
