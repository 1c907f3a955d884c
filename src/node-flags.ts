// The V8 heap settings the service runs with: `npm start`, the Dockerfile, the quick start,
// the tests and the benchmark all start it with these (a unit test holds package.json and
// the Dockerfile to them). V8 flags cannot go in NODE_OPTIONS, so they are on the command.
//
// V8's defaults on a machine with this much memory let the young generation grow to 128 MB
// and the old one to about four times what is live: 485–513 MB peak RSS at full speed, of
// which ~50 MB is live. These cap the young generation at 2 × 32 MB and start a full
// collection once the old one has grown by half: 260–292 MB, for 13–17 % of the throughput
// (`npm run bench [-- --v8-defaults]`, README "Performance"). Without them: `node src/main.ts`.
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--heap-growing-percent=50']
