// Builds the request listener: the pipeline, the Hono app for /v1/… and the AWS JSON endpoint for POST /.
import type { RequestListener } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Clock } from '../core/clock.js';
import { INTERNAL_KEYS, internalKey } from '../kms/index.js';
import type { Logger } from '../observability/logger.js';
import { createTerraformStateBackend } from '../terraform/index.js';
import { createApp } from './app.js';
import { createAwsJsonHandler } from './aws-json.js';
import type { ChangeFeed } from './change-feed.js';
import type { ServerConfig } from './config.js';
import type { Engines } from './engines.js';
import { createPipeline, type Pipeline } from './pipeline.js';
import { createResourceResolver } from './resources.js';
import type { Env } from './route.js';
import type { Services } from './services.js';

export interface ListenerDeps {
  config: Readonly<ServerConfig>;
  clock: Clock;
  logger: Logger;
  engines: Engines;
  services: Services;
  changeFeed: ChangeFeed;
  /** False while starting or draining: /readyz answers 503. */
  isReady: () => boolean;
}

export function createListener(deps: ListenerDeps): RequestListener {
  const { config, clock, engines, services } = deps;
  const pipeline = createPipeline({
    audit: services.audit,
    directory: services.directory,
    accountId: config.accountId,
    resolve: createResourceResolver(engines.kms, engines.secrets),
    now: () => clock.now(),
    logger: deps.logger,
    metrics: engines.metrics,
  });
  const routes = getRequestListener(buildApp(deps, pipeline).fetch);
  const awsJson = buildAwsJson(deps, pipeline);
  return (req, res) => {
    if (req.method === 'POST' && (req.url === '/' || req.url?.startsWith('/?'))) awsJson(req, res);
    else void routes(req, res);
  };
}

function buildApp(
  { config, clock, engines, services, changeFeed, isReady }: ListenerDeps,
  pipeline: Pipeline,
): Hono<Env> {
  const { kms, secrets, store } = engines;
  return createApp({
    authenticator: services.authenticator,
    pipeline,
    secrets: { engine: secrets, rotation: services.rotation },
    changeFeed,
    directory: services.directory,
    login: services.login,
    sessions: services.sessions,
    accountId: config.accountId,
    metrics: engines.metrics,
    isReady,
    maxBodyBytes: config.maxBodyBytes,
    watchHeartbeatMs: config.watchHeartbeatMs,
    rotateRootKey: engines.rotateRootKey,
    terraform: {
      backend: createTerraformStateBackend({
        store: store.terraform,
        kms,
        keyArn: internalKey(kms, INTERNAL_KEYS.terraform),
        now: () => clock.now(),
        keepVersions: config.terraform.keepVersions,
      }),
      maxStateBytes: config.terraform.maxStateBytes,
      region: config.region,
    },
  });
}

function buildAwsJson({ config, engines, services }: ListenerDeps, pipeline: Pipeline) {
  const { directory } = services;
  return createAwsJsonHandler({
    kms: engines.kms,
    secrets: { engine: engines.secrets, rotation: services.rotation },
    authenticator: services.authenticator,
    pipeline,
    sts: {
      login: services.login,
      sessions: services.sessions,
      accountId: config.accountId,
      issuerOf: (role) => {
        const r = directory.role(role);
        const issuer = r && directory.issuer(r.config.issuer);
        return issuer && { issuer: issuer.config.issuer, audience: issuer.config.audiences[0]! };
      },
    },
    maxBodyBytes: config.maxBodyBytes,
  });
}
