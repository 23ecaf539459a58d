// Terraform's http state backend: /v1/terraform/state/<name> (GET, POST, DELETE, LOCK, UNLOCK), Basic auth.
//
// Speaks the protocol exactly as Terraform 1.11 does (see README "Terraform state backend"):
// LOCK 200 or 423 + the holder's LockInfo; UNLOCK always 200 when released or not locked (even 204
// fails Terraform), 409 + holder for another ID, and an EMPTY body is `terraform force-unlock`,
// which never sends the ID: allowed only with terraform:ForceUnlockState, and audited. POST
// carries `?ID=<lock id>` while Terraform holds the lock. State bodies are never logged.
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ResourceRef } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { awsErrorBody } from '../core/http-errors.js';
import { isValidStateName, type TerraformStateBackend } from '../terraform/index.js';
import { type Admitted, type Env, exchangeOf, type RouteDeps } from './route.js';

/** Paths under here have their own body limit (states outgrow maxBodyBytes). */
export const TERRAFORM_PATH_PREFIX = '/v1/terraform/';
const STATE_PREFIX = '/v1/terraform/state/';
const VERSIONS_PREFIX = '/v1/terraform/state-versions/';

export interface TerraformRouteDeps extends RouteDeps {
  terraform: {
    backend: TerraformStateBackend;
    maxStateBytes: number;
    region: string;
  };
}

/** The policy resource of a state: `arn:aws:keysafe:<region>:<account>:terraform-state/<name>`. */
export const terraformStateArn = (region: string, accountId: string, name: string): string =>
  `arn:aws:keysafe:${region}:${accountId}:terraform-state/${name}`;

interface Reply {
  status: 200 | 404 | 409 | 423;
  body: string | Buffer;
}

const json = (status: Reply['status'], doc: object): Reply => ({ status, body: JSON.stringify(doc) });
const conflict = (message: string): Reply => json(409, { __type: 'ConflictException', message });
const noState = (name: string): Reply =>
  json(404, { __type: 'ResourceNotFoundException', message: `No state named ${name}.` });

type TerraformHandler = (c: Context<Env>, x: Admitted, deps: TerraformRouteDeps) => Promise<Reply>;
type StateResources = (c: Context<Env>) => Promise<ResourceRef[]>;
type StateRoute = (
  action: string,
  resources: StateResources,
  run: TerraformHandler,
) => (c: Context<Env>) => Promise<Response>;

export function registerTerraformRoutes(app: Hono<Env>, deps: TerraformRouteDeps): void {
  const { maxStateBytes, region } = deps.terraform;
  const route = makeStateRoute(deps);
  /** `action` on the state the path names (under `prefix`). */
  const onState =
    (action: string, prefix = STATE_PREFIX): StateResources =>
    async (c) => [{ kind: 'arn', action, arn: terraformStateArn(region, deps.accountId, stateName(c, prefix)) }];

  app.use(`${TERRAFORM_PATH_PREFIX}*`, stateBodyLimit(maxStateBytes));
  app.get(`${STATE_PREFIX}*`, route('terraform:GetState', onState('terraform:GetState'), getState));
  app.get(
    `${VERSIONS_PREFIX}*`,
    route('terraform:GetState', onState('terraform:GetState', VERSIONS_PREFIX), listVersions),
  );
  app.post(`${STATE_PREFIX}*`, route('terraform:PutState', onState('terraform:PutState'), putState));
  app.delete(`${STATE_PREFIX}*`, route('terraform:DeleteState', onState('terraform:DeleteState'), deleteState));
  app.on('LOCK', `${STATE_PREFIX}*`, route('terraform:LockState', onState('terraform:LockState'), lockState));
  app.on(
    'UNLOCK',
    `${STATE_PREFIX}*`,
    route(
      'terraform:UnlockState',
      // `terraform force-unlock ID` sends no body: the ID cannot be checked, the permission can.
      async (c) =>
        onState((await c.req.text()).trim() === '' ? 'terraform:ForceUnlockState' : 'terraform:UnlockState')(c),
      unlockState,
    ),
  );
}

/** Like makeRoute, for raw bodies and Terraform's statuses; Basic (or Bearer) authentication. */
function makeStateRoute(deps: TerraformRouteDeps): StateRoute {
  return (action, resources, run) => async (c) => {
    const x = exchangeOf(c);
    const answer = await deps.pipeline.run(x, 'native', async () => {
      const identity = await deps.authenticator.basicOrBearer(c.req.header('authorization'));
      const access = deps.pipeline.admit(x, identity, action);
      await access.authorize(await resources(c));
      const reply = await run(c, x as Admitted, deps);
      if (reply.status !== 200) x.outcome = reply.status === 404 ? 'ResourceNotFoundException' : 'ConflictException';
      return reply;
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (answer.ok) return c.body(answer.value.body as string, answer.value.status, headers);
    if (answer.status === 401) headers['www-authenticate'] = 'Basic realm="keysafe"';
    return c.body(awsErrorBody(answer.error), answer.status as Reply['status'], headers);
  };
}

/** States outgrow maxBodyBytes: their own limit, terraform.maxStateBytes. */
function stateBodyLimit(maxStateBytes: number) {
  return bodyLimit({
    maxSize: maxStateBytes,
    onError: (c) =>
      c.body(
        awsErrorBody(
          new AppError(
            'RequestEntityTooLargeException',
            `Request body is larger than ${maxStateBytes} bytes (terraform.maxStateBytes).`,
          ),
        ),
        413,
        { 'content-type': 'application/json', connection: 'close' },
      ),
  });
}

/** The state name in the path after `prefix`, percent-decoded and checked. */
function stateName(c: Context<Env>, prefix: string): string {
  let name = c.req.path.slice(prefix.length);
  try {
    if (name.includes('%')) name = decodeURIComponent(name);
  } catch {
    name = '';
  }
  if (!isValidStateName(name)) {
    throw new AppError(
      'ValidationException',
      'State names are 1–256 characters of [A-Za-z0-9_.@=+-], in /-separated segments.',
    );
  }
  return name;
}

/** `?ID=<lock id>`, which Terraform adds to writes while it holds the lock. */
const lockIdOf = (c: Context<Env>): string | undefined => c.req.query('ID') || undefined;

/** GET: the newest state, or the kept `?version=`. */
async function getState(c: Context<Env>, _x: Admitted, deps: TerraformRouteDeps): Promise<Reply> {
  const name = stateName(c, STATE_PREFIX);
  const wanted = c.req.query('version');
  if (wanted !== undefined && !/^[1-9]\d{0,14}$/.test(wanted)) {
    throw new AppError('ValidationException', 'version must be a positive integer.');
  }
  const found = await deps.terraform.backend.read(name, wanted === undefined ? undefined : Number(wanted));
  if (!found) {
    return json(404, {
      __type: 'ResourceNotFoundException',
      message: wanted === undefined ? `No state named ${name}.` : `State ${name} has no version ${wanted}.`,
    });
  }
  return { status: 200, body: found.body };
}

/** GET state-versions: the kept versions of a state. */
async function listVersions(c: Context<Env>, _x: Admitted, deps: TerraformRouteDeps): Promise<Reply> {
  const name = stateName(c, VERSIONS_PREFIX);
  const versions = await deps.terraform.backend.versions(name);
  if (versions.length === 0) return noState(name);
  return json(200, {
    name,
    versions: versions.map((v) => ({
      version: v.version,
      serial: v.serial,
      lineage: v.lineage,
      size: v.size,
      kmsKeyArn: v.kmsKeyArn,
      createdAt: new Date(v.createdAt).toISOString(),
    })),
  });
}

/** POST: a new version, unless the lock, serial or lineage refuse it. */
async function putState(c: Context<Env>, _x: Admitted, deps: TerraformRouteDeps): Promise<Reply> {
  const name = stateName(c, STATE_PREFIX);
  const body = Buffer.from(await c.req.arrayBuffer());
  const lockId = lockIdOf(c);
  const result = await deps.terraform.backend.write(name, body, lockId);
  if (result.ok) return json(200, { version: result.version });
  switch (result.reason) {
    case 'locked':
      return { status: 409, body: result.lock.info };
    case 'not-locked':
      return conflict(`State ${name} is not locked by ${lockId}: the lock was released or force-unlocked.`);
    case 'stale-serial':
      return conflict(
        `State ${name} has serial ${result.serial}; refusing a write that does not carry a higher serial (a stale copy?).`,
      );
    case 'lineage-mismatch':
      return conflict(
        `State ${name} has lineage ${result.lineage}; refusing a state of another lineage (delete the state first).`,
      );
  }
}

async function deleteState(c: Context<Env>, _x: Admitted, deps: TerraformRouteDeps): Promise<Reply> {
  const name = stateName(c, STATE_PREFIX);
  const result = await deps.terraform.backend.remove(name, lockIdOf(c));
  if (!result.ok) return { status: 409, body: result.lock.info };
  if (!result.deleted) return noState(name);
  return json(200, {});
}

async function lockState(c: Context<Env>, _x: Admitted, deps: TerraformRouteDeps): Promise<Reply> {
  const name = stateName(c, STATE_PREFIX);
  const result = await deps.terraform.backend.lock(name, await c.req.text());
  if (result.acquired) return { status: 200, body: result.info };
  // Terraform shows a waiting user only the holder's ID; the log says who holds it.
  const holder = JSON.parse(result.holder.info) as Record<string, string>;
  deps.pipeline.logger.info('terraform state is locked by another run', {
    state: name,
    lockId: holder.ID,
    who: holder.Who,
    operation: holder.Operation,
    created: holder.Created,
  });
  return { status: 423, body: result.holder.info };
}

/** UNLOCK with the holder's LockInfo, or with an empty body: `terraform force-unlock`. */
async function unlockState(c: Context<Env>, x: Admitted, deps: TerraformRouteDeps): Promise<Reply> {
  const name = stateName(c, STATE_PREFIX);
  const body = await c.req.text();
  if (body.trim() === '') {
    const removed = await deps.terraform.backend.forceUnlock(name);
    deps.pipeline.logger.warn('terraform state force-unlocked', {
      state: name,
      by: x.identity!.arn,
      lockId: removed?.id,
      who: removed && (JSON.parse(removed.info) as Record<string, string>).Who,
    });
    return json(200, {});
  }
  const result = await deps.terraform.backend.unlock(name, body);
  if (result.outcome === 'held') return { status: 409, body: result.lock.info };
  return json(200, {});
}
