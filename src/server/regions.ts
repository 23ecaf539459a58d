// The region of a request (SigV4 scope, x-keysafe-region header, or the default), checked against `regions:`,
// and the one memo every per-region part is built through (engines, rotation, the API contexts).
import { REGION_NAME } from '../core/arn.js';
import { AppError } from '../core/errors.js';

/** The header naming the region of a Bearer-token AWS JSON call or a native /v1/… call. */
export const REGION_HEADER = 'x-keysafe-region';

export interface RegionPolicy {
  /** The default region (`region:`): existing data, Bearer and native calls without the header. */
  readonly defaultRegion: string;
  /** `regions:`, when the operator restricted the set. */
  readonly allowed?: readonly string[];
}

/**
 * The region a request acts in. A SigV4 call's credential scope names it (the header is not
 * signed-for-region and so ignored there); otherwise the header, otherwise the default.
 * A malformed name (from either) is a ValidationException; one outside `regions:` an
 * UnrecognizedClientException (AWS's answer to an endpoint of a region it does not serve
 * the account in), naming the region and the allowed ones.
 */
export function requestRegion(policy: RegionPolicy, from: { signed?: string; header?: string }): string {
  const region = from.signed ?? from.header ?? policy.defaultRegion;
  if (!REGION_NAME.test(region)) {
    const source = from.signed !== undefined ? 'credential scope region' : `${REGION_HEADER} header`;
    throw new AppError(
      'ValidationException',
      `The ${source} '${region.slice(0, 64)}' is not a region name such as us-east-1.`,
    );
  }
  if (policy.allowed && !policy.allowed.includes(region)) {
    throw new AppError(
      'UnrecognizedClientException',
      `The region '${region.slice(0, 64)}' is not served here; this server serves ${policy.allowed.join(', ')}.`,
    );
  }
  return region;
}

/** Something built once per region, on first use; `built()` lists those made so far. */
export interface PerRegion<T> {
  (region: string): T;
  built(): T[];
}

/**
 * Regions one process builds parts for, when `regions:` does not list them: each holds engines and
 * caches, so a caller naming ever new well-formed regions could otherwise grow memory without end.
 */
export const MAX_REGIONS = 64;

export function perRegion<T>(build: (region: string) => T): PerRegion<T> {
  const made = new Map<string, T>();
  const of = (region: string): T => {
    let value = made.get(region);
    if (value === undefined) {
      if (made.size >= MAX_REGIONS) {
        throw new AppError(
          'LimitExceededException',
          `This server serves at most ${MAX_REGIONS} regions at once; list the regions to serve in regions:.`,
        );
      }
      value = build(region);
      made.set(region, value);
    }
    return value;
  };
  return Object.assign(of, { built: () => [...made.values()] });
}
