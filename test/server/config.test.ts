// Server configuration: every invalid config is a named fixture with a message naming the bad key.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config-error.js';
import { loadServerConfig, parseListen } from '../../src/server/config.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/config/${name}`, import.meta.url));

describe('server config', () => {
  it.each([
    ['unknown-key.yaml', "unknown key 'listenAddress'"],
    ['bad-listen.yaml', "expected HOST:PORT, got 'nowhere'"],
    ['bad-region.yaml', "invalid value for 'region'"],
    ['bad-account.yaml', "invalid value for 'accountId'"],
    ['tls-without-key.yaml', "invalid value for 'tls.key'"],
    ['not-yaml.yaml', 'is not valid YAML or JSON'],
    ['webhook-allow-wildcard.yaml', "invalid value for 'rotation.webhookAllow.0'"],
    ['webhook-allow-path-without-slash.yaml', "invalid value for 'rotation.webhookAllow.0'"],
    ['webhook-allow-without-secret.yaml', 'rotation.webhookAllow: webhooks are signed'],
    ['webhook-secret-short.yaml', "invalid value for 'rotation.webhookSecret'"],
    ['webhook-secret-twice.yaml', 'give webhookSecret or webhookSecretFile, not both'],
    [
      'regions-without-default.yaml',
      'regions: the default region eu-west-1 (region:) must be one of us-east-1, us-west-2',
    ],
    [
      'regions-without-builtin-default.yaml',
      'regions: the default region us-east-1 (the built-in default; set region:) must be one of eu-west-1',
    ],
    ['regions-bad-name.yaml', "invalid value for 'regions.1'"],
  ])('rejects %s naming the problem', (name, message) => {
    expect(() => loadServerConfig({ config: fixture(name) }, {})).toThrow(ConfigError);
    expect(() => loadServerConfig({ config: fixture(name) }, {})).toThrow(message);
  });

  it('reads a valid file and lets flags override it, not the environment', () => {
    const config = loadServerConfig(
      { config: fixture('valid.json'), dataDir: '/tmp/x' },
      { KEYSAFE_LOG_LEVEL: 'debug' },
    );
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 9999,
      region: 'eu-west-1',
      accountId: '111122223333',
      logLevel: 'warn',
      store: 'sqlite:/tmp/x/keysafe.db',
      rootKeyFile: '/tmp/x/root.key',
    });
    expect(loadServerConfig({ config: fixture('valid.json'), listen: '127.0.0.2:1' }, {}).host).toBe('127.0.0.2');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('serves any region unless regions: lists them', () => {
    expect(loadServerConfig({}, {}).regions).toBeUndefined();
  });

  it('allows no rotation webhook by default', () => {
    expect(loadServerConfig({}, {}).rotation).toEqual({ webhookAllow: [] });
  });

  it('uses the documented defaults', () => {
    expect(loadServerConfig({}, {})).toMatchObject({
      host: '127.0.0.1',
      port: 8270,
      dataDir: './keysafe-data',
      store: 'sqlite:keysafe-data/keysafe.db',
      region: 'us-east-1',
      accountId: '000000000000',
      insecurePlaintextNonLoopback: false,
    });
  });

  it('requires both TLS files', () => {
    expect(() => loadServerConfig({ tlsCert: 'a.pem' }, {})).toThrow('give both a certificate');
  });

  it('parses IPv6 and bare-port listen addresses', () => {
    expect(parseListen('[::1]:8270')).toEqual({ host: '::1', port: 8270 });
    expect(parseListen(':8270')).toEqual({ host: '127.0.0.1', port: 8270 });
    expect(() => parseListen('127.0.0.1:99999')).toThrow(ConfigError);
  });
});
