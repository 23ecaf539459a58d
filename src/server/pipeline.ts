// The one request pipeline of every API (AWS JSON, STS, native, Terraform): authenticate → parse →
// authorize every declared resource → run → map the error → metrics → audit, or 503.
//
// Transports differ only in how they read a request and write an answer. Labels for metrics and the
// audit record's action come from a closed set: a request that did not authenticate or names no
// known operation is counted and recorded as `unrecognized`, never under a name it chose.
import type { AuditLog } from '../audit/index.js';
import type { Directory, Identity } from '../auth/index.js';
import { AppError } from '../core/errors.js';
import { type Api, statusOf, toAppError } from '../core/http-errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { RequestAccess } from './access.js';
import { auditRecord } from './audit-trail.js';
import type { RegionPolicy } from './regions.js';
import { acrossRegions, type ResolveLocal } from './resources.js';

export const UNRECOGNIZED = 'unrecognized';

/** What one request established, for its metrics and audit record. */
export class Exchange {
  /** The operation's name once known and its caller authenticated (or an anonymous route's fixed name). */
  label = UNRECOGNIZED;
  identity: Identity | undefined;
  access: RequestAccess | undefined;
  /** The region the request acts in (regions.ts), once admitted. */
  region: string | undefined;
  /** For requests decided outside RequestAccess (login, STS): the resource and the decision. */
  resource: string | undefined;
  decision: 'allow' | 'deny' | undefined;
  /** A refusal answered without an error (Terraform's 404, 409, 423): its code. */
  outcome: string | undefined;

  constructor(
    readonly requestId: string,
    readonly source: string,
  ) {}
}

export type Answer<T> = { ok: true; value: T; status: 200 } | { ok: false; error: AppError; status: number };

export interface PipelineDeps {
  audit: AuditLog;
  directory: Directory;
  accountId: string;
  regions: RegionPolicy;
  /** The resolver of a region's resources (its engines). */
  resolveIn: (region: string) => ResolveLocal;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

export type Pipeline = ReturnType<typeof createPipeline>;

export function createPipeline(deps: PipelineDeps) {
  const { audit, logger, metrics } = deps;

  /**
   * The caller is who `identity` says: the request is counted as `label` and its access decided
   * from now on, on the resources of `region` (default: the default region).
   */
  function admit(x: Exchange, identity: Identity, label: string, region = deps.regions.defaultRegion): RequestAccess {
    x.identity = identity;
    x.label = label;
    x.region = region;
    x.access = new RequestAccess(identity, deps.directory, deps.accountId, acrossRegions(region, deps.resolveIn));
    return x.access;
  }

  function record(x: Exchange, outcome: string): Promise<boolean> {
    return audit
      .append(
        auditRecord({
          requestId: x.requestId,
          source: x.source,
          identity: x.identity,
          action: x.access?.action ?? x.label,
          resource: x.access?.resource ?? x.resource,
          region: x.region,
          decision: x.decision ?? x.access?.decision ?? 'none',
          outcome,
          at: deps.now(),
        }),
      )
      .then(
        () => true,
        () => false,
      );
  }

  /**
   * Runs `body` for one request and accounts for it. Answered only once recorded: a request whose
   * record cannot be written is answered ServiceUnavailableException even if it ran (as Vault
   * does): an unrecorded answer, a secret value above all, must not leave the server.
   */
  async function run<T>(x: Exchange, api: Api, body: () => Promise<T>): Promise<Answer<T>> {
    const started = performance.now();
    let answer: Answer<T>;
    try {
      await audit.ready();
      answer = { ok: true, value: await body(), status: 200 };
    } catch (e) {
      const error = toAppError(e);
      if (error !== e) {
        // A programmer mistake: log where it happened, never request data.
        logger.error('request failed', {
          requestId: x.requestId,
          operation: x.label,
          error: (e as Error)?.name,
          stack: (e as Error)?.stack,
        });
      } else {
        logger.debug('request refused', { requestId: x.requestId, operation: x.label, code: error.code });
      }
      answer = { ok: false, error, status: statusOf(error, api) };
    }
    const code = answer.ok ? (x.outcome ?? 'ok') : answer.error.code;
    metrics.observe(x.label, code, (performance.now() - started) / 1000);
    if (code !== 'ServiceUnavailableException' && !(await record(x, code === 'ok' ? 'success' : code))) {
      const error = new AppError('ServiceUnavailableException', 'The audit log cannot be written; try again later.');
      answer = { ok: false, error, status: statusOf(error, api) };
    }
    return answer;
  }

  return { admit, run, record, logger, regions: deps.regions };
}
