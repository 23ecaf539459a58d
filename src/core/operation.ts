// An API operation as data: its input schema, the resources it touches, and what it runs once allowed.
//
// The request pipeline parses the input, authorizes every declared resource, and only then runs the
// operation: a handler cannot forget a check, and the authorization matrix test
// (test/security/authorization-matrix.test.ts) holds each declaration against AWS's rules.
import type { z } from 'zod';
import type { Access, ResourceRef } from './access.js';
import { parseInput } from './wire.js';

export interface Operation<Ctx, I = unknown> {
  input: z.ZodType<I>;
  /** Refusals that hold for every caller and reveal nothing (reserved names): made before authorizing. */
  validate?(input: I): void;
  /** Every resource the operation reads or writes, with the action checked on each. Never empty. */
  resources(input: I): ResourceRef[];
  /** Runs once every declared resource is allowed; `access` is for per-item decisions only. */
  run(ctx: Ctx, input: I, access: Access): Promise<object>;
}

/** Declares an operation (infers its input type from the schema). */
export function operation<Ctx, S extends z.ZodType>(spec: {
  input: S;
  validate?(input: z.output<S>): void;
  resources(input: z.output<S>): ResourceRef[];
  run(ctx: Ctx, input: z.output<S>, access: Access): Promise<object>;
}): Operation<Ctx, z.output<S>> {
  return spec as unknown as Operation<Ctx, z.output<S>>;
}

/**
 * Builds operations of the common shape on one kind of resource (a KMS key, a secret): one action on the
 * resource the request names (`target` says which), one call, then `{}`, or `answer`'s projection of what
 * the call returned.
 */
export function singleCallOperations<Ctx, Named>(target: (action: string, input: Named) => ResourceRef) {
  return <I extends Named, R>(
    action: string,
    input: z.ZodType<I>,
    call: (ctx: Ctx, input: I) => Promise<R>,
    answer?: (result: R, ctx: Ctx, input: I) => object,
  ): Operation<Ctx, I> => ({
    input,
    resources: (i) => [target(action, i)],
    async run(ctx, i) {
      const result = await call(ctx, i);
      return answer ? answer(result, ctx, i) : {};
    },
  });
}

/**
 * Parse → validate → authorize every declared resource → run. The context is asked for only once
 * authorized: building it may cost (a region's engines).
 */
export async function invoke<Ctx>(
  op: Operation<Ctx>,
  ctx: () => Ctx | Promise<Ctx>,
  raw: unknown,
  access: Access,
): Promise<object> {
  const input = parseInput(op.input, raw);
  op.validate?.(input);
  await access.authorize(op.resources(input));
  return op.run(await ctx(), input, access);
}
