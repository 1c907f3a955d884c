// The configuration of a replica sized to the memory it may use: MEMORY_LIMIT_MB when set,
// else the container's limit (memory-limit.ts), shared out by memory-budget.ts over the
// consumer loops the replica will run. The heap flags of the same budget are on the
// command line (src/node-flags.ts).
import type { Config } from '../config.ts'
import { consumerLoopCount } from '../names.ts'
import { memoryBudget, type MemoryBudget } from './memory-budget.ts'
import { memoryLimit, type MemoryLimit } from './memory-limit.ts'

export interface SizedConfig {
  readonly config: Config
  readonly limit: MemoryLimit | undefined
  readonly budget: MemoryBudget
}

/** `loaded` with its tuning sized to `limit` (by default: MEMORY_LIMIT_MB, else the cgroups'). */
export function sizeToMemory(loaded: Config, limit: MemoryLimit | undefined = limitOf(loaded)): SizedConfig {
  const budget = memoryBudget(limit?.mb, { loops: consumerLoopCount(loaded.kafka.groupId, loaded.retryScheduleMs) })
  return { config: { ...loaded, tuning: { ...loaded.tuning, ...budget.tuning } }, limit, budget }
}

function limitOf(loaded: Config): MemoryLimit | undefined {
  return loaded.memoryLimitMb === undefined ? memoryLimit({}) : { mb: loaded.memoryLimitMb, source: 'MEMORY_LIMIT_MB' }
}
