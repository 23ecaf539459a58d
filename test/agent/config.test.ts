// Agent configuration: every key, the defaults, normalisation, and each invalid config as a named fixture.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AGENT_DEFAULTS, isLoopbackHost, loadAgentConfig, parseAgentConfig } from '../../src/agent/config.js';
import { ConfigError } from '../../src/core/config-error.js';

const dir = fileURLToPath(new URL('../fixtures/agent-config/', import.meta.url));
const fixture = (name: string) => `${dir}${name}`;

const minimal = () => ({
  server: 'http://127.0.0.1:8270',
  auth: { role: 'web', tokenFile: '/var/run/secrets/keysafe/token' },
  secrets: [{ id: 'app/db' }] as Record<string, unknown>[],
});

describe('agent config', () => {
  it('reads every key of a full file', () => {
    const config = loadAgentConfig(fixture('full.yaml'));
    expect(config).toEqual({
      server: ['http://127.0.0.1:8270', 'https://keysafe.example:8443'],
      auth: { role: 'web', tokenFile: `${dir}token` },
      listen: { host: '127.0.0.1', port: 2773 },
      insecureListenNonLoopback: false,
      localTokenFile: '/run/keysafe/local-token',
      secrets: [
        {
          id: 'app/db',
          path: '/run/secrets/app/db.json',
          format: 'json',
          mode: 0o440,
          owner: 1000,
          group: 2000,
          env: { username: 'DB_USER', password: 'DB_PASSWORD' },
        },
        {
          id: 'app/url',
          path: `${dir}secrets/url.txt`,
          format: 'template',
          template: 'postgres://{{username}}:{{ password }}@db/app',
          mode: 0o400,
          env: 'DB_URL',
        },
        {
          id: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app/env-AbCdEf',
          path: '/run/secrets/app/.env',
          format: 'env',
          mode: 0o400,
        },
      ],
      onChange: {
        signal: 'SIGHUP',
        pidFile: `${dir}app.pid`,
        command: ['/bin/sh', '-c', 'nginx -s reload'],
        http: 'http://127.0.0.1:8080/-/reload',
        debounceMs: 250,
      },
      exec: { onChange: 'signal', signal: 'SIGUSR1', gracePeriodSeconds: 3 },
      pollIntervalSeconds: 60,
      maxStaleSeconds: 900,
      logLevel: 'debug',
    });
  });

  it('applies the documented defaults to a minimal file', () => {
    const config = loadAgentConfig(fixture('minimal.yaml'));
    expect(config).toEqual({
      server: ['http://127.0.0.1:8270'],
      auth: { role: 'web', tokenFile: '/var/run/secrets/keysafe/token' },
      insecureListenNonLoopback: false,
      secrets: [{ id: 'app/db', format: 'raw', mode: 0o400 }],
      exec: { onChange: 'restart', signal: 'SIGHUP', gracePeriodSeconds: 10 },
      pollIntervalSeconds: 300,
      maxStaleSeconds: 0,
      logLevel: 'info',
    });
    expect(config.listen).toBeUndefined();
    expect(config.onChange).toBeUndefined();
    expect(AGENT_DEFAULTS.mode).toBe(0o400);
  });

  it('reads JSON as well as YAML and defaults the reload debounce', () => {
    const config = loadAgentConfig(fixture('minimal.json'));
    expect(config.secrets[0]).toEqual({ id: 'app/db', path: '/run/secrets/app/db', format: 'raw', mode: 0o600 });
    expect(config.onChange).toEqual({ signal: 'SIGHUP', processName: 'nginx', debounceMs: 1000 });
  });

  it('normalises a single server to a list and drops trailing slashes', () => {
    expect(parseAgentConfig(minimal()).server).toEqual(['http://127.0.0.1:8270']);
    expect(
      parseAgentConfig({ ...minimal(), server: ['https://a.example/', 'http://b.example:1/base//'] }).server,
    ).toEqual(['https://a.example', 'http://b.example:1/base']);
    expect(() => parseAgentConfig({ ...minimal(), server: [] })).toThrow("'server': at least one server URL");
  });

  it('takes an optional region, well formed, and has none by default', () => {
    expect(parseAgentConfig(minimal()).region).toBeUndefined();
    expect(parseAgentConfig({ ...minimal(), region: 'eu-west-1' }).region).toBe('eu-west-1');
    expect(() => parseAgentConfig({ ...minimal(), region: 'Moon-1' })).toThrow("'region': a region such as eu-west-1");
  });

  it.each([
    ['0400', 0o400],
    ['400', 0o400],
    ['0640', 0o640],
    ['0444', 0o444],
    ['0600', 0o600],
    ['0755', 0o755],
  ])('parses mode "%s" as octal', (mode, expected) => {
    expect(parseAgentConfig({ ...minimal(), secrets: [{ id: 'x', mode }] }).secrets[0]!.mode).toBe(expected);
  });

  it.each(['04000', '0o400', 'rw-------', '', '0800', '1'])('rejects mode "%s"', (mode) => {
    expect(() => parseAgentConfig({ ...minimal(), secrets: [{ id: 'x', mode }] })).toThrow("'secrets[0].mode'");
  });

  it('requires a template exactly when the format is template', () => {
    const ok = parseAgentConfig({ ...minimal(), secrets: [{ id: 'x', format: 'template', template: '{{a.b}}' }] });
    expect(ok.secrets[0]!.template).toBe('{{a.b}}');
    expect(() => parseAgentConfig({ ...minimal(), secrets: [{ id: 'x', format: 'template' }] })).toThrow(
      "'secrets[0].template': required when format is template",
    );
    for (const format of ['raw', 'json', 'env', 'shell']) {
      expect(() => parseAgentConfig({ ...minimal(), secrets: [{ id: 'x', format, template: '{{a}}' }] })).toThrow(
        "'secrets[0].template': only allowed when format is template",
      );
    }
  });

  it('refuses a non-loopback listen address unless the insecure option is set', () => {
    const base = { ...minimal(), localTokenFile: '/run/keysafe/local-token' };
    expect(() => parseAgentConfig({ ...base, listen: '0.0.0.0:2773' })).toThrow(ConfigError);
    expect(() => parseAgentConfig({ ...base, listen: '10.1.2.3:2773' })).toThrow("'listen': not a loopback address");
    expect(() => parseAgentConfig({ ...base, listen: '[::]:2773' })).toThrow('insecureListenNonLoopback');
    const open = parseAgentConfig({ ...base, listen: '0.0.0.0:2773', insecureListenNonLoopback: true });
    expect(open.listen).toEqual({ host: '0.0.0.0', port: 2773 });
    expect(open.insecureListenNonLoopback).toBe(true);
    // The caller warns when this is false for a configured listen address.
    expect(isLoopbackHost(open.listen!.host)).toBe(false);
  });

  it.each([
    ['127.0.0.1:2773', { host: '127.0.0.1', port: 2773 }],
    ['127.0.0.2:1', { host: '127.0.0.2', port: 1 }],
    ['localhost:2773', { host: 'localhost', port: 2773 }],
    ['[::1]:2773', { host: '::1', port: 2773 }],
    [':2773', { host: '127.0.0.1', port: 2773 }],
  ])('accepts loopback listen %s', (listen, expected) => {
    const config = parseAgentConfig({ ...minimal(), listen, localTokenFile: '/run/t' });
    expect(config.listen).toEqual(expected);
    expect(isLoopbackHost(config.listen!.host)).toBe(true);
  });

  it('resolves relative paths against the given base directory', () => {
    const config = parseAgentConfig(
      {
        ...minimal(),
        auth: { role: 'web', tokenFile: 'token' },
        listen: '127.0.0.1:2773',
        localTokenFile: 'run/local-token',
        secrets: [{ id: 'a', path: 'out/a.txt' }],
        onChange: { signal: 'SIGHUP', pidFile: '../app.pid' },
      },
      { baseDir: '/etc/keysafe' },
    );
    expect(config.auth.tokenFile).toBe('/etc/keysafe/token');
    expect(config.localTokenFile).toBe('/etc/keysafe/run/local-token');
    expect(config.secrets[0]!.path).toBe('/etc/keysafe/out/a.txt');
    expect(config.onChange!.pidFile).toBe('/etc/app.pid');
  });

  it('accepts signal names with or without the SIG prefix', () => {
    const config = parseAgentConfig({
      ...minimal(),
      onChange: { signal: 'USR2', processName: 'nginx' },
      exec: { onChange: 'signal', signal: 'TERM' },
    });
    expect(config.onChange!.signal).toBe('SIGUSR2');
    expect(config.exec).toEqual({ onChange: 'signal', signal: 'SIGTERM', gracePeriodSeconds: 10 });
  });

  it('returns a deeply frozen config', () => {
    const config = loadAgentConfig(fixture('full.yaml'));
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.secrets[0])).toBe(true);
    expect(Object.isFrozen(config.secrets[0]!.env)).toBe(true);
    expect(Object.isFrozen(config.onChange!.command)).toBe(true);
  });

  it('names the key of a bad value passed to parseAgentConfig', () => {
    expect(() => parseAgentConfig({ ...minimal(), secrets: [{ id: 'a' }, { id: 'b', owner: 'root' }] })).toThrow(
      "agent config: invalid value for 'secrets[1].owner'",
    );
    expect(() => parseAgentConfig(null)).toThrow("'server': required");
  });

  it('reports a missing file as a ConfigError', () => {
    expect(() => loadAgentConfig(fixture('does-not-exist.yaml'))).toThrow(ConfigError);
    expect(() => loadAgentConfig(fixture('does-not-exist.yaml'))).toThrow('cannot read');
  });

  it.each([
    ['unknown-top-key.yaml', "unknown key 'secretz'"],
    ['unknown-secret-key.yaml', "unknown key 'secrets[0].formt'"],
    ['unknown-auth-key.yaml', "unknown key 'auth.jwt'"],
    ['missing-server.yaml', "'server': required"],
    ['bad-server-url.yaml', "'server[1]': an http:// or https:// URL"],
    ['missing-auth-role.yaml', "'auth.role': required"],
    ['no-secrets.yaml', "'secrets': at least one secret"],
    ['bad-format.yaml', "'secrets[0].format'"],
    ['template-missing.yaml', "'secrets[0].template': required when format is template"],
    ['template-without-format.yaml', "'secrets[0].template': only allowed when format is template"],
    ['malformed-template.yaml', "'secrets[0].template': template: malformed placeholder"],
    ['bad-mode.yaml', "'secrets[0].mode': an octal permission string"],
    ['numeric-mode.yaml', "'secrets[0].mode': quote it as an octal string"],
    ['bad-owner.yaml', "'secrets[0].owner'"],
    ['reserved-file-name.yaml', '\'secrets[0].path\': file names starting with ".." are reserved'],
    ['duplicate-path.yaml', "'secrets[1].path': same path as secrets[0]"],
    ['bad-env-name.yaml', "'secrets[0].env'"],
    ['duplicate-env.yaml', "'secrets[1].env': variable DB_PASSWORD is already set by secrets[0]"],
    ['bad-listen.yaml', "'listen': expected HOST:PORT"],
    ['non-loopback-listen.yaml', "'listen': not a loopback address"],
    ['listen-without-token-file.yaml', "'localTokenFile': required when listen is set"],
    ['bad-signal.yaml', "'onChange.signal': a signal name"],
    ['signal-without-target.yaml', "'onChange.signal': needs pidFile or processName"],
    ['target-without-signal.yaml', "'onChange.signal': required with pidFile or processName"],
    ['pid-file-and-process-name.yaml', "'onChange.processName': give pidFile or processName, not both"],
    ['empty-command.yaml', "'onChange.command'"],
    ['bad-reload-url.yaml', "'onChange.http'"],
    ['empty-on-change.yaml', "'onChange': give at least one of signal, command or http"],
    ['bad-exec-on-change.yaml', "'exec.onChange'"],
    ['bad-poll-interval.yaml', "'pollIntervalSeconds'"],
    ['negative-max-stale.yaml', "'maxStaleSeconds'"],
    ['bad-log-level.yaml', "'logLevel'"],
    ['not-yaml.yaml', 'is not valid YAML or JSON'],
  ])('rejects %s naming the bad key', (name, message) => {
    let error: unknown;
    try {
      loadAgentConfig(fixture(name));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).toContain(name);
  });
});
