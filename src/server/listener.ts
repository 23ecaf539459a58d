// Builds the request listener: the pipeline, the Hono app for /v1/… and the AWS JSON endpoint for POST /,
// over each region's engines (the request's region is decided in regions.ts).
import type { RequestListener } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { INTERNAL_KEYS, internalKey } from '../kms/index.js';
import type { Logger } from '../observability/logger.js';
import { createTerraformStateBackend } from '../terraform/index.js';
import { createApp } from './app.js';
import { createAwsJsonHandler, type RegionalApi } from './aws-json.js';
import type { ChangeFeed } from './change-feed.js';
import type { ServerConfig } from './config.js';
import type { Engines } from './engines.js';
import { createPipeline, type Pipeline } from './pipeline.js';
import { createRegionGate, type PerRegion, perRegion } from './regions.js';
import { createEmptyRegionResolver, createResourceResolver, type ResolveLocal } from './resources.js';
import type { Env } from './route.js';
import type { Services } from './services.js';

export interface ListenerDeps {
  config: Readonly<ServerConfig>;
  clock: Clock;
  logger: Logger;
  engines: Engines;
  services: Services;
  changeFeedIn: (region: string) => Promise<ChangeFeed>;
  /** False while starting or draining: /readyz answers 503. */
  isReady: () => boolean;
}

/** What a region's requests run on: its operations' contexts and its resources' resolver. */
type Regional = RegionalApi & { resolve: ResolveLocal };

/** A region's parts for an authorized request, and its change feed: built through the region gate. */
interface RegionalParts {
  regional(region: string): Promise<Regional>;
  changeFeedIn(region: string): Promise<ChangeFeed>;
}

export function createListener(deps: ListenerDeps): RequestListener {
  const { config, clock, engines, services } = deps;
  const regional: PerRegion<Regional> = perRegion((region) => {
    const { kms, secrets } = engines.inRegion(region);
    return {
      kms,
      secrets: {
        engine: secrets,
        rotation: services.rotationIn(region),
        replication: engines.replication.portIn(region),
      },
      resolve: createResourceResolver(kms, secrets),
    };
  });
  const regions = { defaultRegion: config.region, ...(config.regions && { allowed: config.regions }) };
  const gate = createRegionGate({
    policy: regions,
    built: regional.has,
    dataRegions: () => engines.store.regions(),
    now: () => clock.now(),
  });
  // Authorization in a region not built reads nothing (nothing exists there); its parts are built
  // only once the request is authorized (apis, secretsIn), so a refused caller builds nothing.
  const resolveIn = (region: string): ResolveLocal => {
    const empty = createEmptyRegionResolver({ region, accountId: config.accountId });
    return async (ref) => ((await gate.known(region)) ? regional(region).resolve : empty)(ref);
  };
  const built: RegionalParts = {
    regional: async (region) => {
      await gate.admit(region);
      return regional(region);
    },
    changeFeedIn: async (region) => {
      if (!(await gate.known(region))) {
        throw new AppError(
          'ResourceNotFoundException',
          `The region '${region}' holds no secrets here; watch a region listed in regions: or holding secrets.`,
        );
      }
      return deps.changeFeedIn(region);
    },
  };
  const pipeline = createPipeline({
    audit: services.audit,
    directory: services.directory,
    accountId: config.accountId,
    regions,
    resolveIn,
    now: () => clock.now(),
    logger: deps.logger,
    metrics: engines.metrics,
  });
  const routes = getRequestListener(buildApp(deps, pipeline, built).fetch);
  const awsJson = buildAwsJson(deps, pipeline, built);
  return (req, res) => {
    if (req.method === 'POST' && (req.url === '/' || req.url?.startsWith('/?'))) awsJson(req, res);
    else void routes(req, res);
  };
}

function buildApp(
  { config, clock, engines, services, isReady }: ListenerDeps,
  pipeline: Pipeline,
  { regional, changeFeedIn }: RegionalParts,
): Hono<Env> {
  const { kms, store } = engines;
  return createApp({
    authenticator: services.authenticator,
    pipeline,
    secretsIn: async (region) => (await regional(region)).secrets,
    changeFeedIn,
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

function buildAwsJson({ config, services }: ListenerDeps, pipeline: Pipeline, { regional }: RegionalParts) {
  const { directory } = services;
  return createAwsJsonHandler({
    apis: regional,
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
