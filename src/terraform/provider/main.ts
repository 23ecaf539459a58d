// Entry point of the provider process (bundled into provider.cjs by `keysafe terraform install`).
import { createProviderHandlers } from './framework.js';
import { servePlugin } from './host.js';
import { keysafeProvider } from './provider.js';

servePlugin(createProviderHandlers(keysafeProvider)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`keysafe-provider: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
