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
  has(region: string): boolean;
}

/** A memo of per-region parts. Bounded by the callers: requests through a RegionGate, the scheduler by the data. */
export function perRegion<T>(build: (region: string) => T): PerRegion<T> {
  const made = new Map<string, T>();
  const of = (region: string): T => {
    let value = made.get(region);
    if (value === undefined) {
      value = build(region);
      made.set(region, value);
    }
    return value;
  };
  return Object.assign(of, { built: () => [...made.values()], has: (region: string) => made.has(region) });
}

/**
 * Regions whose parts requests may build without limit: those listed in `regions:`, the default one,
 * those built already and those holding data. Each holds engines and caches, so a caller naming
 * ever new well-formed regions could otherwise grow memory without end; other regions are built
 * only for a request authorized there, and at most MAX_REGIONS of them.
 */
export const MAX_REGIONS = 64;

/** How long the list of regions holding data is reused: a region another replica filled is known this much later. */
const DATA_REGIONS_TTL_MS = 1000;

export interface RegionGate {
  /** Whether `region` may hold something: if not, nothing there exists and nothing need be built to say so. */
  known(region: string): Promise<boolean>;
  /** Before building `region`'s parts for an authorized request: LimitExceededException past the cap. */
  admit(region: string): Promise<void>;
}

export function createRegionGate(deps: {
  policy: RegionPolicy;
  built: (region: string) => boolean;
  dataRegions: () => Promise<string[]>;
  now: () => number;
}): RegionGate {
  const { policy } = deps;
  let cached: { at: number; regions: Promise<Set<string>> } | undefined;
  const holdingData = (): Promise<Set<string>> => {
    const now = deps.now();
    if (!cached || now - cached.at >= DATA_REGIONS_TTL_MS) {
      const regions = deps.dataRegions().then((r) => new Set(r));
      cached = { at: now, regions };
      regions.catch(() => (cached = undefined)); // the next request asks again
    }
    return cached.regions;
  };
  /** Regions built for requests while neither listed nor holding data. */
  const speculative = new Set<string>();
  const known = async (region: string): Promise<boolean> =>
    region === policy.defaultRegion ||
    policy.allowed?.includes(region) === true ||
    deps.built(region) ||
    (await holdingData()).has(region);
  return {
    known,
    async admit(region) {
      if (await known(region)) return;
      if (speculative.size >= MAX_REGIONS) {
        // Regions filled since the list was read no longer count: read it afresh before refusing.
        cached = undefined;
        const data = await holdingData();
        for (const r of speculative) if (data.has(r)) speculative.delete(r);
      }
      if (speculative.size >= MAX_REGIONS) {
        throw new AppError(
          'LimitExceededException',
          `This server serves at most ${MAX_REGIONS} regions holding no data at once; list the regions to serve in regions:.`,
        );
      }
      speculative.add(region);
    },
  };
}
