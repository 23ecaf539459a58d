// The connection a PostgreSQL rotation pins at RotateSecret, and which fields of a later value differ from it.
import { describe, expect, it } from 'vitest';
import { postgresAlternatingUsers, postgresSingleUser } from '../../src/secrets/rotators/postgres.js';
import { baseUsername, changedPinFields, parseSecret } from '../../src/secrets/rotators/postgres-connection.js';
import { RotationStepError } from '../../src/secrets/rotators/types.js';

const MASTER = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:team-a/master-AbCdEf';
const base = {
  engine: 'postgres',
  host: 'db.team-a.internal',
  port: 5432,
  dbname: 'app',
  username: 'app',
  password: 'pw-1',
  masterarn: MASTER,
};
const value = (changes: Record<string, unknown> = {}) => JSON.stringify({ ...base, ...changes });
const alternating = postgresAlternatingUsers();
const single = postgresSingleUser();
const pinOf = (v: string, rotator = alternating) => rotator.connectionOf!(v, 'RotateSecret', 'AWSCURRENT');
const changed = (pinned: string, now: string, rotator = alternating) =>
  changedPinFields(pinOf(pinned, rotator), pinOf(now, rotator));

describe('connectionPinOf', () => {
  it('pins where and on whom the rotation acts, never the password', () => {
    expect(pinOf(value())).toEqual({
      host: 'db.team-a.internal',
      port: 5432,
      dbname: 'app',
      username: 'app',
      ssl: false,
      masterarn: MASTER,
    });
    expect(JSON.stringify(pinOf(value()))).not.toContain('pw-1');
  });

  it('pins the defaults a value leaves out, as the strategy connects with them', () => {
    const { port: _p, dbname: _d, ...rest } = base;
    expect(pinOf(JSON.stringify(rest))).toMatchObject({ port: 5432, dbname: 'postgres', ssl: false });
  });

  it('alternating users pin the pair: `<user>` and `<user>_clone` have the same pin', () => {
    expect(baseUsername('app_clone')).toBe('app');
    expect(baseUsername('_clone')).toBe('_clone');
    expect(pinOf(value({ username: 'app_clone' })).username).toBe('app');
    expect(changed(value(), value({ username: 'app_clone', password: 'other' }))).toEqual([]);
  });

  it('single user pins the user itself and not masterarn, which it never reads', () => {
    expect(pinOf(value({ username: 'app_clone' }), single).username).toBe('app_clone');
    expect(pinOf(value(), single)).not.toHaveProperty('masterarn');
    expect(changed(value(), value({ masterarn: 'elsewhere' }), single)).toEqual([]);
    expect(changed(value(), value({ username: 'app_clone' }), single)).toEqual(['username']);
  });

  it('refuses a value that names no connection, naming the field and never a value', () => {
    expect(() => pinOf('not json')).toThrow(new RotationStepError('RotateSecret: AWSCURRENT is not valid JSON'));
    expect(() => pinOf(value({ host: '' }))).toThrow('RotateSecret: AWSCURRENT has no "host" string');
    expect(() => pinOf(value({ masterarn: 5 }))).toThrow('RotateSecret: AWSCURRENT has an invalid "masterarn"');
    expect(() => parseSecret('setSecret', 'AWSPENDING', value({ port: 'x' }))).toThrow(
      'setSecret: AWSPENDING has an invalid "port"',
    );
  });
});

describe('changedPinFields', () => {
  it('is empty for a new password on the same connection', () => {
    expect(changed(value(), value({ password: 'pw-2', extra: 'kept' }))).toEqual([]);
  });

  it.each([
    [{ host: 'db.team-b.internal' }, ['host']],
    [{ port: 5433 }, ['port']],
    [{ dbname: 'postgres' }, ['dbname']],
    [{ username: 'bsvc_clone' }, ['username']],
    [{ masterarn: MASTER.replace('team-a', 'team-b') }, ['masterarn']],
    [{ masterarn: undefined }, ['masterarn']],
    [{ ssl: true }, ['ssl']],
    [{ username: 'bsvc', masterarn: 'team-b/master', host: '10.0.0.5' }, ['host', 'username', 'masterarn']],
  ])('names %j as %j', (changes, fields) => {
    expect(changed(value(), value(changes))).toEqual(fields);
  });

  it('compares normalised fields: a port given as a string or ssl as "true" is the same connection', () => {
    expect(changed(value({ ssl: true }), value({ port: '5432', ssl: 'true' }))).toEqual([]);
  });

  it('names only fields, never their values', () => {
    const fields = changed(value(), value({ host: 'evil.example', username: 'victim', masterarn: 'their-master' }));
    expect(fields.join(' ')).not.toMatch(/evil|victim|their-master/);
  });
});
