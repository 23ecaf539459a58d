// An app that knows nothing of Keysafe: like most twelve-factor apps it takes its settings from
// environment variables at start. Under `keysafe exec` (see agent.yaml) it gets the demo secret as
// DB_USER, DB_PASSWORD and DATABASE_URL, and is restarted with new values when the secret rotates.
//
//   node dist/cli.js exec --config examples/exec-env/agent.yaml -- node examples/exec-env/app.mjs
const { DB_USER, DB_PASSWORD, DATABASE_URL } = process.env;
if (!DB_USER || !DB_PASSWORD || !DATABASE_URL) {
  console.error('app: DB_USER, DB_PASSWORD and DATABASE_URL must be set (run me under keysafe exec)');
  process.exit(2);
}

// A real app would open its connection pool and start serving here; this one says what it got.
console.log(`app ${process.pid}: started with DB_USER=${DB_USER}, DATABASE_URL=${DATABASE_URL}`);
const alive = setInterval(() => {}, 60_000);

// keysafe exec stops the app with SIGTERM before restarting it with rotated secrets (and forwards the
// SIGTERM/SIGINT it gets itself): finish cleanly, and keysafe exec exits with our exit code.
process.on('SIGTERM', () => {
  console.log(`app ${process.pid}: stopping`);
  clearInterval(alive);
});
