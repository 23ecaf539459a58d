// Import rules for src/, checked by `npm run lint` with dependency-cruiser: the layering the code keeps, enforced.
// Tests (test/) and benchmarks (bench/) are not cruised: they may import anything.
const { existsSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const src = join(__dirname, 'src');
const folders = readdirSync(src, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

// Everything but the composition root (server) and the command line (cli) is domain code, including any
// folder added later.
const domainFolders = folders.filter((name) => name !== 'server' && name !== 'cli');

// A folder with an index.ts is closed: other folders import it through that file only. Read from disk, so a
// folder that gains an index.ts is closed from then on. core, observability, client and tls have none on
// purpose: they are toolboxes of small independent modules (errors, clock, logger, ...) imported one by one.
const closedFolders = folders.filter((name) => existsSync(join(src, name, 'index.ts')));

// Second doors, each for a reason. kms/key-specs.ts is a pure table the Terraform provider (its own bundled
// process) needs; through kms/index.ts the provider would load the whole KMS engine (bundle 549 KB -> 1.03 MB,
// about 11 MB more RSS at each launch).
const extraDoors = ['^src/kms/key-specs\\.ts$'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment:
        'Modules form no import cycle. A cycle that passes through a type-only import is allowed: it is gone ' +
        'once compiled (core/access.ts names auth’s Identity type while auth uses core’s AccessCheck).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'crypto-only-in-src-crypto',
      comment: 'Only src/crypto imports node:crypto; everything else asks src/crypto (see SECURITY.md).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/crypto/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?crypto$' },
    },
    {
      name: 'crypto-libraries-only-in-src-crypto',
      comment: 'The cryptography libraries (@noble/curves, @noble/post-quantum, @noble/hashes) are src/crypto’s too.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/crypto/' },
      to: { path: '(^|/)node_modules/@noble/' },
    },
    {
      name: 'domain-not-to-server-or-cli',
      comment: 'Domain folders never reach up into the server or the command line.',
      severity: 'error',
      from: { path: `^src/(${domainFolders.join('|')})/` },
      to: { path: ['^src/(server|cli)/', '^src/cli\\.ts$'] },
    },
    {
      name: 'hono-only-at-the-edges',
      comment:
        'The HTTP framework stays in the server, the command line and the agent’s own localhost endpoint ' +
        '(the agent is a second HTTP server); domain code never sees a request object.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(server|cli)/', '^src/cli\\.ts$', '^src/agent/endpoint\\.ts$'] },
      to: { path: '(^|/)node_modules/(hono|@hono/[^/]+)/' },
    },
    {
      name: 'through-index',
      comment: 'Another folder’s code is imported through its index.ts, never a file behind it.',
      severity: 'error',
      from: { path: '^src/([^/]+)' },
      to: {
        path: `^src/(${closedFolders.join('|')})/`,
        pathNot: ['^src/$1/', `^src/(${closedFolders.join('|')})/index\\.ts$`, ...extraDoors],
      },
    },
    {
      name: 'src-not-to-tests',
      comment: 'Shipped code never imports tests or benchmarks.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-unresolvable',
      comment: 'Every import resolves: a mistyped path would otherwise hide a module from the rules above.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // true: type-only imports count, so a domain naming a server or hono type still breaks the layering rules;
    // only the cycle rule looks past them (viaOnly above).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Paths stay as written (node_modules/hono/...) when node_modules is a symlink.
    preserveSymlinks: true,
    // Packages' `exports` maps, so subpaths such as hono/streaming resolve (and the hono rule sees them).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
