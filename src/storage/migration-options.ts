// What migrations are functions of: the default region existing rows move to when a store gains regions.
import { REGION_NAME } from '../core/arn.js';
import { ConfigError } from '../core/config-error.js';

export interface MigrationOptions {
  defaultRegion: string;
}

export const DEFAULT_REGION = 'us-east-1';

/** The options a driver migrates with, the region checked (it is written into SQL as a literal). */
export function migrationOptions(defaultRegion: string | undefined): MigrationOptions {
  const region = defaultRegion ?? DEFAULT_REGION;
  if (!REGION_NAME.test(region)) throw new ConfigError(`store: '${region}' is not a region name such as us-east-1`);
  return { defaultRegion: region };
}

/** A checked region as an SQL string literal (the pattern admits no quote). */
export function regionLiteral(region: string): string {
  if (!REGION_NAME.test(region)) throw new ConfigError(`store: '${region}' is not a region name such as us-east-1`);
  return `'${region}'`;
}
