// The random-password strategy: a new GetRandomPassword value for a JSON field or the whole string.
import { type RotationContext, RotationStepError, type Rotator } from './types.js';

export interface RandomPasswordOptions {
  /** JSON field to replace; when the value is not a JSON object the whole string is replaced. */
  field: string;
  length?: number;
  excludeCharacters?: string;
  excludePunctuation?: boolean;
}

export function randomPasswordRotator(options: RandomPasswordOptions): Rotator {
  return {
    async createSecret(ctx: RotationContext) {
      if ((await ctx.getPendingValue()) !== undefined) return;
      const current = await ctx.getValue({ stage: 'AWSCURRENT' });
      const password = ctx.generatePassword(options);
      await ctx.putPendingValue(replaceField(current, options.field, password));
    },
    async setSecret() {},
    async testSecret(ctx: RotationContext) {
      if ((await ctx.getPendingValue()) === undefined) {
        throw new RotationStepError('testSecret: the pending version has no value');
      }
    },
  };
}

function replaceField(current: string | undefined, field: string, password: string): string {
  if (current !== undefined) {
    try {
      const doc: unknown = JSON.parse(current);
      if (doc && typeof doc === 'object' && !Array.isArray(doc)) return JSON.stringify({ ...doc, [field]: password });
    } catch {
      // Not JSON: the whole string is the password.
    }
  }
  return password;
}
