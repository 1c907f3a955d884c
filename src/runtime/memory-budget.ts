// How the service sizes itself to the memory it may use (pure; the limit comes from
// memory-limit.ts). Without a limit: exactly the flags and tuning it always had. With one:
// V8 heap flags (they must be on node's command line: `node src/node-flags.ts` prints them for
// the start command) and the tuning main.ts applies (records and bytes in flight, fetch
// sizes), chosen from measurements under memory cgroups (docs/performance.md, "Memory limits").
//
// Where the memory of a busy replica is (backlog, one origin, `npm run bench -- --memory-probe`):
// ~30 MB of anonymous memory that is not the JS heap (malloc, thread stacks, the TypeScript
// stripper), 10–20 MB external (Kafka fetch and socket buffers), the young generation (up to
// about 2 × semi-space), and the old generation: ~20 MB idle plus what the records in flight
// hold, grown by --heap-growing-percent before a full collection. File-backed pages (node's
// code, ~60 MB) count towards a container's limit too but can be dropped and read again.
import { DEFAULT_TUNING } from '../config/defaults.ts'
import type { Tuning } from '../config/types.ts'

const MIB = 1024 * 1024

/** The V8 heap settings of an unlimited run (src/node-flags.ts explains them). */
export const UNLIMITED_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32', '--heap-growing-percent=50']

/** The part of `Tuning` a memory limit decides. */
export type MemoryTuning = Pick<Tuning, 'maxInFlight' | 'maxInFlightBytes' | 'fetchMaxBytes' | 'fetchMaxBytesPerPartition' | 'streamHighWaterMark'>

export interface MemoryBudget {
  /** MiB, or undefined: no limit. */
  limitMb: number | undefined
  nodeFlags: string[]
  tuning: Partial<MemoryTuning>
  /** The heap sizes chosen, for the start-up log line. */
  heap?: { semiSpaceMb: number; maxOldSpaceMb: number; heapGrowingPercent: number }
}

/** Below this the service does not fit at all (node alone is ~50 MB); a smaller limit is treated as this. */
const MIN_LIMIT_MB = 96

/**
 * Live old-generation bytes per byte of record value in flight: the value's Buffer (a view of
 * a fetch buffer, which it keeps alive), its string, the parsed result, the notification body
 * and, on failure, a retry record or dead letter wrapping it.
 */
const HEAP_BYTES_PER_VALUE_BYTE = 5
/** Old generation of the idle service (measured 17–22 MB) plus the small records in flight, with margin. */
const OLD_SPACE_BASE_MB = 28

export function memoryBudget(limitMb: number | undefined, options: { loops: number } = { loops: 10 }): MemoryBudget {
  if (limitMb === undefined) return { limitMb, nodeFlags: [...UNLIMITED_NODE_FLAGS], tuning: {} }
  const limit = Math.max(limitMb, MIN_LIMIT_MB)
  const loops = Math.max(1, options.loops)

  // Young generation: its size is throughput (fewer scavenges, fewer objects promoted); 32 MB
  // semi-spaces fit from 256 MiB, below that each MiB goes to the old generation instead.
  const semiSpaceMb = limit >= 256 ? 32 : limit >= 192 ? 16 : 8
  // Old generation: a hard cap, so V8 collects harder as it nears it instead of growing past
  // the container's limit. Everything in flight is bounded below it (see the byte budget).
  // Not tighter from 256 MiB: a cap of 40 % (102 MB) made V8 collect all the time and halved
  // the throughput (2,701–2,894/s against 5,741/s unlimited); 60 % (153 MB) ran at 5,517–6,005/s
  // with a cgroup peak of 186 MiB (docs/performance.md, "Memory limits").
  const maxOldSpaceMb = Math.floor(limit * (limit >= 256 ? 0.6 : 0.45))
  const heapGrowingPercent = limit >= 256 ? 50 : 30

  const maxInFlight = limit >= 256 ? DEFAULT_TUNING.maxInFlight : 200
  // Bytes of record values in flight, shared out over the consumer loops (input + one per retry
  // tier), so that all of them full at once still fits under the old-generation cap. One record
  // is always admitted per loop, whatever its size.
  const valueBudget = Math.max(0, (maxOldSpaceMb - OLD_SPACE_BASE_MB) * MIB) / HEAP_BYTES_PER_VALUE_BYTE
  const maxInFlightBytes = Math.min(DEFAULT_TUNING.maxInFlightBytes, Math.max(256 * 1024, Math.floor(valueBudget / loops)))
  const fetchMaxBytes = limit >= 512 ? DEFAULT_TUNING.fetchMaxBytes : limit >= 256 ? MIB : 512 * 1024
  const fetchMaxBytesPerPartition = limit >= 256 ? DEFAULT_TUNING.fetchMaxBytesPerPartition : 128 * 1024
  const streamHighWaterMark = limit >= 256 ? DEFAULT_TUNING.streamHighWaterMark : 128

  return {
    limitMb,
    nodeFlags: [`--max-semi-space-size=${semiSpaceMb}`, `--max-old-space-size=${maxOldSpaceMb}`, `--heap-growing-percent=${heapGrowingPercent}`],
    tuning: { maxInFlight, maxInFlightBytes, fetchMaxBytes, fetchMaxBytesPerPartition, streamHighWaterMark },
    heap: { semiSpaceMb, maxOldSpaceMb, heapGrowingPercent },
  }
}
