// Preloaded into the service by `npm run bench -- --memory-probe` (node --import): every
// 500 ms one JSON line to MEMORY_PROBE_FILE with where the process's memory is:
// process.memoryUsage() (rss, heapTotal, heapUsed, external, arrayBuffers), V8's heap spaces
// (committed size of each) and /proc/self/smaps_rollup (anonymous vs file-backed pages).
import { appendFileSync, readFileSync } from 'node:fs'
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8'

const file = process.env.MEMORY_PROBE_FILE
const MIB = 1024 * 1024

function mb(bytes: number): number {
  return Math.round((bytes / MIB) * 10) / 10
}

function smaps(): Record<string, number> {
  const fields: Record<string, number> = {}
  try {
    for (const line of readFileSync('/proc/self/smaps_rollup', 'utf8').split('\n')) {
      const match = /^(Rss|Pss_Anon|Pss_File|Anonymous|Shared_Clean|Private_Clean|Private_Dirty):\s+(\d+) kB/.exec(line)
      if (match?.[1] && match[2]) fields[match[1]] = Math.round(Number(match[2]) / 102.4) / 10
    }
  } catch {
    // not Linux
  }
  return fields
}

if (file) {
  const timer = setInterval(() => {
    const usage = process.memoryUsage()
    const spaces: Record<string, number> = {}
    for (const space of getHeapSpaceStatistics()) spaces[space.space_name.replace(/_space$/, '')] = mb(space.physical_space_size)
    const heap = getHeapStatistics()
    const line = {
      t: Date.now(),
      rss: mb(usage.rss),
      heapTotal: mb(usage.heapTotal),
      heapUsed: mb(usage.heapUsed),
      external: mb(usage.external),
      arrayBuffers: mb(usage.arrayBuffers),
      heapLimit: mb(heap.heap_size_limit),
      mallocedMemory: mb(heap.malloced_memory),
      spaces,
      smaps: smaps(),
    }
    appendFileSync(file, `${JSON.stringify(line)}\n`)
  }, 500)
  timer.unref()
}
