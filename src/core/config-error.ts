// A bad command line or configuration: the CLI prints the message and exits with code 2.

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
