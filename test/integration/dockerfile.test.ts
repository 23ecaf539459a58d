// The Dockerfile, checked without a Docker engine: its stages and COPY sources are consistent with the
// repository and .dockerignore, and the runtime stage's file tree, rebuilt here from its COPY lines with
// production dependencies only, runs: the entrypoint script, every command's module graph, and a server
// that starts, answers /readyz and stops without writing into the image.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO } from '../support/process.js';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  base: string;
  name: string;
  steps: Instruction[];
}

/** Parses a Dockerfile into its global ARGs and stages (continuations joined, comments dropped). */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const step = { op: op.toUpperCase(), args: rest.replace(/\s+/g, ' ') };
    if (step.op === 'FROM') {
      const m = /^(\S+)(?: AS (\S+))?$/i.exec(step.args)!;
      stages.push({ base: m[1]!, name: m[2] ?? String(stages.length), steps: [] });
    } else if (stages.length === 0) args.push(step);
    else stages.at(-1)!.steps.push(step);
  }
  return { args, stages };
}

/** COPY [--from=S] [--chmod=M] SRC… DEST */
function copyOf(step: Instruction): { from?: string; sources: string[]; dest: string } {
  const words = step.args.split(' ');
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { ...(from && { from }), sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** .dockerignore as this repository writes it: plain paths and `*`, `!` re-includes, last match wins. */
function ignored(path: string, patterns: string[]): boolean {
  let out = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = (negate ? raw.slice(1) : raw).replace(/\/$/, '');
    if (p === '*' || path === p || path.startsWith(`${p}/`)) out = !negate;
  }
  return out;
}

const dockerfile = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const stage = (name: string) => dockerfile.stages.find((s) => s.name === name)!;
const runtime = dockerfile.stages.at(-1)!;
const ignorePatterns = readFileSync(join(REPO, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};

/** The working directory a stage's step runs in (WORKDIR before it, absolute paths only here). */
function workdirAt(s: Stage, index: number): string {
  let wd = '/';
  for (const step of s.steps.slice(0, index)) if (step.op === 'WORKDIR') wd = step.args;
  return wd;
}
const absolute = (path: string, wd: string) => (path.startsWith('/') ? path : join(wd, path));

describe('the Dockerfile', () => {
  it('builds on a Node LTS slim base the package supports, every stage from the same one', () => {
    const defaults = Object.fromEntries(
      dockerfile.args.filter((a) => a.op === 'ARG').map((a) => a.args.split('=') as [string, string]),
    );
    expect(Number(defaults.NODE_VERSION)).toBeGreaterThanOrEqual(Number(/\d+/.exec(pkg.engines.node)![0]));
    expect(Number(defaults.NODE_VERSION) % 2).toBe(0); // even majors are the LTS lines
    expect(new Set(dockerfile.stages.map((s) => s.base))).toEqual(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's ARG references, verbatim
      new Set(['node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim']),
    );
    expect(defaults.DEBIAN_RELEASE).toMatch(/^[a-z]+$/); // pinned: the glibc under better-sqlite3's prebuild
  });

  it('references only earlier stages and context files that exist and are not ignored', () => {
    const names = dockerfile.stages.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    dockerfile.stages.forEach((s, n) => {
      for (const step of s.steps.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
        expect(step.op, 'COPY, not ADD').toBe('COPY');
        const copy = copyOf(step);
        if (copy.from) {
          expect(names.slice(0, n), `${s.name}: COPY --from=${copy.from}`).toContain(copy.from);
          continue;
        }
        for (const src of copy.sources) {
          expect(src, 'no whole-context copies').not.toBe('.');
          expect(existsSync(join(REPO, src)), `${s.name}: COPY ${src}`).toBe(true);
          expect(ignored(src, ignorePatterns), `${src} excluded by .dockerignore`).toBe(false);
        }
      }
    });
  });

  it('keeps local data, node_modules and dist out of the build context', () => {
    for (const path of [
      'keysafe-data/root.key',
      'keysafe-dev/agent/token',
      'node_modules/x',
      'dist/cli.js',
      '.git/HEAD',
    ]) {
      expect(ignored(path, ignorePatterns), path).toBe(true);
    }
    expect(ignored('src/cli.ts', ignorePatterns)).toBe(false);
  });

  it('compiles with every dependency and installs production dependencies only for the runtime', () => {
    const build = stage('build');
    const runs = (s: Stage) => s.steps.filter((x) => x.op === 'RUN').map((x) => x.args);
    expect(runs(build)).toContain('npm ci --no-audit --no-fund');
    expect(runs(build)).toContain('npm run build');
    // What tsconfig.build.json compiles, and the config it extends, are in the build stage.
    const copied = build.steps.filter((x) => x.op === 'COPY').flatMap((x) => copyOf(x).sources);
    const buildConfig = JSON.parse(readFileSync(join(REPO, 'tsconfig.build.json'), 'utf8'));
    for (const needed of [
      'package-lock.json',
      'tsconfig.build.json',
      buildConfig.extends.replace('./', ''),
      ...buildConfig.include,
    ]) {
      expect(copied, needed).toContain(needed);
    }
    expect(runs(stage('deps')).some((r) => /^npm ci --omit=dev\b/.test(r))).toBe(true);
    expect(runs(runtime).some((r) => /\bnpm (ci|install|i)\b/.test(r))).toBe(false);
  });

  it('runs as a numeric non-root user, with ENTRYPOINT ["keysafe"] on PATH and no HEALTHCHECK', () => {
    const user = runtime.steps.filter((x) => x.op === 'USER').at(-1)!.args;
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(runtime.steps.find((x) => x.op === 'ENTRYPOINT')!.args).toBe('["keysafe"]');
    expect(dockerfile.stages.flatMap((s) => s.steps).some((x) => x.op === 'HEALTHCHECK')).toBe(false);
    const env = runtime.steps.find((x) => x.op === 'ENV' && x.args.includes('PATH='))!.args;
    const pathDirs = /PATH=(\S+)/.exec(env)![1]!.split(':');
    const entry = runtime.steps
      .map((x, i) => ({ x, i }))
      .filter(({ x }) => x.op === 'COPY' && copyOf(x).sources.includes('docker/keysafe'))
      .map(({ x, i }) => absolute(copyOf(x).dest, workdirAt(runtime, i)))[0]!;
    expect(pathDirs).toContain(dirname(entry));
    expect(runtime.steps.find((x) => x.op === 'COPY' && x.args.includes('docker/keysafe'))!.args).toContain(
      '--chmod=0555',
    );
    // The working directory (where ./keysafe-data would go) is the data volume, not the image.
    const volume = runtime.steps.find((x) => x.op === 'VOLUME')!.args;
    expect(volume).toBe(`["${runtime.steps.filter((x) => x.op === 'WORKDIR').at(-1)!.args}"]`);
  });
});

describe('the runtime image, rebuilt from its COPY lines with production dependencies only', () => {
  const root = mkdtempSync(join(tmpdir(), 'keysafe-image-'));
  const image = (path: string) => join(root, 'image', path);
  /** Production packages per package-lock.json (what `npm ci --omit=dev` installs). */
  const prodPackages = Object.keys(lock.packages).filter(
    (p) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(p) && !lock.packages[p]!.dev,
  );
  let entrypoint = '';
  let appDir = '';
  const children: ChildProcess[] = [];

  beforeAll(() => {
    expect(existsSync(join(REPO, 'dist/cli.js')), 'run npm run build first').toBe(true);
    runtime.steps.forEach((step, i) => {
      if (step.op !== 'COPY') return;
      const { from, sources, dest } = copyOf(step);
      const target = image(absolute(dest, workdirAt(runtime, i)));
      for (const src of sources) {
        if (from === 'deps') {
          // /app/node_modules of `npm ci --omit=dev`: the lockfile's non-dev packages, nothing else.
          expect(src).toBe(join(workdirAt(stage('deps'), stage('deps').steps.length), 'node_modules'));
          for (const p of prodPackages)
            cpSync(join(REPO, p), join(target, p.slice('node_modules/'.length)), { recursive: true });
        } else {
          // The build stage's /app is the repository after `npm run build`; the context is the repository.
          const repoPath = from === 'build' ? relative('/app', src) : src;
          // A destination ending in / (or `.`) is a directory the source goes into, as in Docker.
          const into = dest.endsWith('/') || dest === '.' ? join(target, basename(src)) : target;
          cpSync(join(REPO, repoPath), into, { recursive: true });
        }
      }
    });
    entrypoint = image('/app/bin/keysafe');
    appDir = image('/app');
    mkdirSync(join(root, 'data'));
  }, 30_000);

  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  const env = () => {
    const e = { ...process.env };
    delete e.NODE_PATH;
    delete e.NODE_OPTIONS;
    return e;
  };
  const run = (...args: string[]) =>
    spawnSync(entrypoint, args, { cwd: join(root, 'data'), env: env(), encoding: 'utf8', timeout: 15_000 });

  it('has no development dependency in its node_modules', () => {
    const present = readdirSync(image('/app/node_modules')).flatMap((n) =>
      n.startsWith('@') ? readdirSync(image(`/app/node_modules/${n}`)).map((m) => `${n}/${m}`) : [n],
    );
    // A devDependency may also be a production package's dependency (@types/node of protobufjs); the
    // lockfile marks the ones only development needs.
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => lock.packages[`node_modules/${d}`]?.dev);
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'vitest', 'esbuild', '@biomejs/biome']));
    for (const dev of devOnly) expect(present, dev).not.toContain(dev);
    for (const dep of Object.keys(pkg.dependencies)) expect(present, dep).toContain(dep);
  });

  it('imports, from dist/, only Node built-ins and production dependencies', () => {
    const builtins = new Set(builtinModules);
    // Optional at runtime: the Terraform install bundles with esbuild when present, else runs from dist/.
    const optional: Record<string, string[]> = { 'cli/terraform.js': ['esbuild'] };
    const jsFiles = (d: string): string[] =>
      readdirSync(d).flatMap((n) => {
        const p = join(d, n);
        return statSync(p).isDirectory() ? jsFiles(p) : p.endsWith('.js') ? [p] : [];
      });
    const seen = new Set<string>();
    for (const file of jsFiles(image('/app/dist'))) {
      const rel = relative(image('/app/dist'), file);
      const text = readFileSync(file, 'utf8');
      const { importedFiles } = ts.preProcessFile(text, true, true);
      for (const { fileName: spec } of importedFiles) {
        if (spec.startsWith('.')) {
          expect(existsSync(join(dirname(file), spec)), `${rel}: ${spec}`).toBe(true);
          continue;
        }
        if (spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        seen.add(name);
        if (optional[rel]?.includes(name)) {
          expect(text, `${rel} guards its import of ${name}`).toMatch(/try\s*{[^}]*await import\(/);
          continue;
        }
        expect(Object.keys(pkg.dependencies), `${rel} imports ${spec}`).toContain(name);
        expect(lock.packages[`node_modules/${name}`]?.dev, `${name} is dev-only in package-lock.json`).toBeUndefined();
      }
      // Files read next to the code at runtime (package.json for the version) are in the image.
      for (const m of text.matchAll(/new URL\('([^']+)', import\.meta\.url\)/g)) {
        expect(existsSync(join(dirname(file), m[1]!)), `${rel}: ${m[1]}`).toBe(true);
      }
    }
    expect(seen.has('better-sqlite3')).toBe(true);
  });

  it('runs the entrypoint script: `keysafe help` prints the usage', () => {
    const out = run('help');
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/^usage: keysafe <command>/);
  });

  it("loads every command's modules from production dependencies", async () => {
    const commands = [...run('help').stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)]
      .map((m) => m[1]!)
      .filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['server', 'agent', 'exec']));
    const results = await Promise.all(
      commands.map(
        (command) =>
          new Promise<{ command: string; code: number | null; stderr: string }>((resolve) => {
            execFile(entrypoint, [command, '--help'], { cwd: join(root, 'data'), env: env() }, (error, _out, stderr) =>
              resolve({ command, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
            );
          }),
      ),
    );
    for (const { command, code, stderr } of results) {
      expect(stderr, command).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
      expect(code, `${command} --help: ${stderr}`).toBe(0);
    }
  }, 30_000);

  it('installs the Terraform provider without esbuild: it runs from dist/ and loads its .proto files there', async () => {
    const out = run('terraform', 'install', '--dir', join(root, 'tf'));
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/unbundled/);
    const packageDir = / in (\S+)/.exec(out.stdout)![1]!;
    const wrapper = readdirSync(packageDir).find((n) => n.startsWith('terraform-provider-keysafe_v'))!;
    const child = spawn(join(packageDir, wrapper), [], {
      env: {
        ...env(),
        TF_PLUGIN_MAGIC_COOKIE: 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2',
        PLUGIN_PROTOCOL_VERSIONS: '6',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (b) => {
      stderr += b;
    });
    // go-plugin's handshake line comes only after every service is loaded and the socket is bound.
    const firstLine = await new Promise<string>((resolve) => {
      let stdout = '';
      child.stdout!.on('data', (b) => {
        stdout += b;
        if (stdout.includes('\n')) resolve(stdout.split('\n')[0]!);
      });
      child.on('exit', () => resolve(stdout));
    });
    child.kill('SIGTERM');
    expect(firstLine, stderr).toMatch(/^1\|6\|unix\|\S+\|grpc$/);
  }, 20_000);

  it('starts a server that becomes ready and stops on SIGTERM, writing only to its data directory', async () => {
    const snapshot = () =>
      JSON.stringify(
        (readdirSync(appDir, { recursive: true }) as string[]).sort().map((p) => {
          const s = statSync(join(appDir, p));
          return [p, s.size, s.mtimeMs];
        }),
      );
    const before = snapshot();
    const port = await freePort();
    const data = join(root, 'data', 'keysafe');
    const child = spawn(entrypoint, ['server', '--listen', `127.0.0.1:${port}`, '--data-dir', data], {
      cwd: join(root, 'data'),
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (b) => {
      stderr += b;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (ready !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready, stderr).toBe(200);
    expect(existsSync(join(data, 'keysafe.db'))).toBe(true);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(snapshot()).toBe(before);
  }, 20_000);
});
