// Preloaded into every service the bench starts (node --import): how many bytes the
// service's JavaScript allocated, garbage included. V8 has no running total, so it is
// summed from the heap's used size around each garbage collection (v8.GCProfiler): what
// was allocated since the last collection is `used before this one − used after the last`.
// Every 250 ms, and at exit, one line `{"t": ms epoch, "allocated": bytes since start}` goes
// to ALLOC_PROBE_FILE; the bench reads the total at the first and last delivery.
//
// With ALLOC_PROFILE_FILE also set (`--alloc-profile`), V8's sampling heap profiler runs
// with objects that were collected kept in the samples, and its profile is written there
// when the process exits: who allocated the bytes (bench/lib/alloc-profile.ts summarises it).
import { appendFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { GCProfiler, getHeapStatistics } from 'node:v8'

const file = process.env.ALLOC_PROBE_FILE
const profileFile = process.env.ALLOC_PROFILE_FILE
const INTERVAL_MS = 250
/** Bytes between samples of the sampling heap profiler (V8's default is 32 KiB). */
const SAMPLING_INTERVAL = 16 * 1024

if (file) {
  let allocated = 0
  let profiler = new GCProfiler()
  let usedAtStart = getHeapStatistics().used_heap_size
  profiler.start()
  const sample = () => {
    const used = getHeapStatistics().used_heap_size
    const { statistics } = profiler.stop()
    let previous = usedAtStart
    for (const gc of statistics) {
      allocated += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - previous)
      previous = gc.afterGC.heapStatistics.usedHeapSize
    }
    allocated += Math.max(0, used - previous)
    profiler = new GCProfiler()
    usedAtStart = getHeapStatistics().used_heap_size
    profiler.start()
    appendFileSync(file, `${JSON.stringify({ t: Date.now(), allocated })}\n`)
  }
  setInterval(sample, INTERVAL_MS).unref()
  // A last sample at exit, so that a window ending less than INTERVAL_MS before the stop is covered.
  process.once('exit', sample)
}

if (profileFile) {
  const session = new Session()
  session.connect()
  session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  // A session in the main thread answers synchronously, so this runs to its end in 'exit'.
  process.once('exit', () => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(profileFile, JSON.stringify(result.profile))
    })
  })
}
