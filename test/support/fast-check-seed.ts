// Property tests in `npm test` are reproducible: a fixed seed unless FUZZ_SEED says otherwise, so a
// failure there is a change's fault, not the luck of the draw. `npm run fuzz` (FUZZ_RUNS set)
// explores with a fresh seed each run; fast-check prints the seed of any failure either way, and
// FUZZ_SEED=<seed> replays it.
import fc from 'fast-check';

const seed = process.env.FUZZ_SEED ?? (process.env.FUZZ_RUNS ? undefined : '20261129');
if (seed !== undefined) fc.configureGlobal({ seed: Number(seed) });
