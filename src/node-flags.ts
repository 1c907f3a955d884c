// The Node flags the service runs with. V8 heap flags cannot go in NODE_OPTIONS, and
// v8.setFlagsFromString after start does not resize the heap, so they are on the command:
// `npm start` and the Dockerfile run `node $(node src/node-flags.ts) src/main.ts`, this file
// run as a script printing the flags for the memory this process may use (MEMORY_LIMIT_MB,
// else the container's cgroup limit; src/runtime/memory-budget.ts). A unit test holds
// package.json and the Dockerfile to that form.
//
// Without a limit: SERVICE_NODE_FLAGS, which the tests and the bench also use. V8's defaults
// on a machine with this much memory let the young generation grow to 128 MB and the old one
// to about four times what is live: 485–513 MB peak RSS at full speed, of which ~50 MB is
// live. These cap the young generation at 2 × 32 MB and start a full collection once the old
// one has grown by half: 260–292 MB, for 13–17 % of the throughput (`npm run bench
// [-- --v8-defaults]`; today's figures in docs/performance.md, the V8-defaults runs in
// the git history of README.md). Without them: `node src/main.ts`.
import { loadDotEnv } from './config/dotenv.ts'
import { memoryBudget, UNLIMITED_NODE_FLAGS } from './runtime/memory-budget.ts'
import { memoryLimit } from './runtime/memory-limit.ts'

export const SERVICE_NODE_FLAGS: readonly string[] = UNLIMITED_NODE_FLAGS

/** The flags for this environment (`.env` read as the service reads it, not overriding the environment). */
function nodeFlagsForThisProcess(): string[] {
  try {
    loadDotEnv()
  } catch {
    // a malformed .env: the service itself will say so
  }
  return memoryBudget(memoryLimit()?.mb).nodeFlags
}

if (import.meta.main) {
  let flags: readonly string[]
  try {
    flags = nodeFlagsForThisProcess()
  } catch {
    // Never leave the service without heap settings: an empty output would mean V8's defaults.
    flags = SERVICE_NODE_FLAGS
  }
  process.stdout.write(`${flags.join(' ')}\n`)
}
