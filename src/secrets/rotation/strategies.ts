// The rotation strategies a RotationLambdaARN names (keysafe:rotation:…), and the webhook policy they get.
import { AppError } from '../../core/errors.js';
import { postgresAlternatingUsers, postgresSingleUser } from '../rotators/postgres.js';
import { randomPasswordRotator } from '../rotators/random-password.js';
import type { Rotator } from '../rotators/types.js';
import { type WebhookPolicy, webhookAllowed, webhookRefused, webhookRotator } from '../rotators/webhook.js';
import type { RotationDeps } from './ports.js';

const STRATEGY_PREFIX = 'keysafe:rotation:';

/**
 * Parses RotationLambdaARN, which names a Keysafe strategy:
 *   keysafe:rotation:random-password[?field=password&length=32&exclude-characters=…&exclude-punctuation=true]
 *   keysafe:rotation:postgres:single-user | keysafe:rotation:postgres:alternating-users
 *   keysafe:rotation:webhook:<http(s) URL>
 */
export function rotatorFor(lambdaArn: string, webhooks: WebhookPolicy): Rotator {
  const spec = lambdaArn.startsWith(STRATEGY_PREFIX) ? lambdaArn.slice(STRATEGY_PREFIX.length) : undefined;
  if (spec?.startsWith('random-password')) {
    const rest = spec.slice('random-password'.length);
    if (rest !== '' && !rest.startsWith('?')) throw badStrategy(lambdaArn);
    const q = new URLSearchParams(rest.slice(1));
    const length = q.has('length') ? Number(q.get('length')) : undefined;
    if (length !== undefined && !(Number.isInteger(length) && length >= 1 && length <= 4096))
      throw badStrategy(lambdaArn);
    return randomPasswordRotator({
      field: q.get('field') ?? 'password',
      ...(length !== undefined && { length }),
      ...(q.has('exclude-characters') && { excludeCharacters: q.get('exclude-characters')! }),
      ...(q.get('exclude-punctuation') === 'true' && { excludePunctuation: true }),
    });
  }
  if (spec === 'postgres:single-user') return postgresSingleUser();
  if (spec === 'postgres:alternating-users') return postgresAlternatingUsers();
  if (spec?.startsWith('webhook:')) {
    const url = spec.slice('webhook:'.length);
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw badStrategy(lambdaArn);
    if (!webhookAllowed(url, webhooks.allow) || webhooks.secret === undefined) throw webhookRefused();
    return webhookRotator(url, webhooks);
  }
  throw badStrategy(lambdaArn);
}

function badStrategy(value: string): AppError {
  return new AppError(
    'InvalidParameterException',
    `RotationLambdaARN '${value.slice(0, 256)}' names no Keysafe rotation strategy; use keysafe:rotation:random-password, keysafe:rotation:postgres:single-user, keysafe:rotation:postgres:alternating-users or keysafe:rotation:webhook:<url>.`,
  );
}

/** The strategy of one secret's rotation, with the server's webhook policy (failures logged naming the secret). */
export function strategyFor(deps: Pick<RotationDeps, 'webhooks' | 'logger'>, lambdaArn: string, arn: string): Rotator {
  return rotatorFor(lambdaArn, {
    ...deps.webhooks,
    logFailure: (d) => deps.logger.warn('rotation webhook failed', { secret: arn, ...d }),
  });
}
