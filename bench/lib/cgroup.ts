// `--memory-limit MB`: the service runs in a memory cgroup of its own with that limit, as in
// a container. This machine has cgroup v1 (/sys/fs/cgroup/memory, as root); on a cgroup v2
// host the same is done with memory.max / memory.swap.max / memory.peak / memory.events.
// The limit covers memory and swap together (memsw), so swap cannot hide an overrun.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const V1_ROOT = '/sys/fs/cgroup/memory'
const V2_ROOT = '/sys/fs/cgroup'
const MIB = 1024 * 1024

export interface CgroupReport {
  path: string
  version: 1 | 2
  limitMb: number
  /** Highest charge of the group over its life (v1 max_usage_in_bytes, v2 memory.peak). */
  peakUsageMb: number | undefined
  /** Times the charge hit the limit (v1 failcnt, v2 events "max"). */
  failcnt: number | undefined
  /** Processes of the group the kernel's OOM killer killed. */
  oomKills: number | undefined
  /** memory.stat at the sample with the highest charge: rss (anon), cache, mapped_file… in MB. */
  statAtPeakMb: Record<string, number>
}

export class MemoryCgroup {
  readonly path: string
  readonly version: 1 | 2
  readonly limitMb: number
  #peakSampleUsage = -1
  #statAtPeak: Record<string, number> = {}

  private constructor(path: string, version: 1 | 2, limitMb: number) {
    this.path = path
    this.version = version
    this.limitMb = limitMb
  }

  /** A fresh group with the limit (memory + swap), empty until a process writes its pid to `procsFile`. */
  static create(name: string, limitMb: number): MemoryCgroup {
    const bytes = String(limitMb * MIB)
    if (existsSync(join(V1_ROOT, 'memory.limit_in_bytes'))) {
      const path = join(V1_ROOT, name)
      mkdirSync(path)
      writeFileSync(join(path, 'memory.limit_in_bytes'), bytes)
      // memsw ≥ memory must hold at every step; absent when the kernel does not account swap.
      if (existsSync(join(path, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(path, 'memory.memsw.limit_in_bytes'), bytes)
      return new MemoryCgroup(path, 1, limitMb)
    }
    if (existsSync(join(V2_ROOT, 'cgroup.controllers'))) {
      const path = join(V2_ROOT, name)
      mkdirSync(path)
      writeFileSync(join(path, 'memory.max'), bytes)
      if (existsSync(join(path, 'memory.swap.max'))) writeFileSync(join(path, 'memory.swap.max'), '0')
      return new MemoryCgroup(path, 2, limitMb)
    }
    throw new Error('--memory-limit: no cgroup v1 memory controller or cgroup v2 hierarchy on this machine')
  }

  /** The file a process writes its pid to, to enter the group. */
  get procsFile(): string {
    return join(this.path, 'cgroup.procs')
  }

  /** Current charge in MB (v1 usage_in_bytes, v2 memory.current). */
  usageMb(): number | undefined {
    const bytes = this.#number(this.version === 1 ? 'memory.usage_in_bytes' : 'memory.current')
    return bytes === undefined ? undefined : bytes / MIB
  }

  /** Called on every bench sample: keeps memory.stat of the moment with the highest charge. */
  sample(): number | undefined {
    const usage = this.usageMb()
    if (usage !== undefined && usage > this.#peakSampleUsage) {
      this.#peakSampleUsage = usage
      this.#statAtPeak = this.#stat()
    }
    return usage
  }

  report(): CgroupReport {
    const peak = this.#number(this.version === 1 ? 'memory.max_usage_in_bytes' : 'memory.peak')
    let failcnt: number | undefined
    let oomKills: number | undefined
    if (this.version === 1) {
      failcnt = this.#number('memory.failcnt')
      oomKills = keyed(this.#read('memory.oom_control')).oom_kill
    } else {
      const events = keyed(this.#read('memory.events'))
      failcnt = events.max
      oomKills = events.oom_kill
    }
    return { path: this.path, version: this.version, limitMb: this.limitMb, peakUsageMb: peak === undefined ? undefined : round(peak / MIB), failcnt, oomKills, statAtPeakMb: this.#statAtPeak }
  }

  /** Removes the group (its processes must have exited; their charges move to the parent). */
  remove(): void {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        rmdirSync(this.path)
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
        // EBUSY while the last process is being reaped.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
      }
    }
    process.stderr.write(`could not remove the cgroup ${this.path}\n`)
  }

  #stat(): Record<string, number> {
    const stat = keyed(this.#read('memory.stat'))
    const wanted = this.version === 1 ? ['rss', 'rss_huge', 'cache', 'mapped_file', 'shmem', 'active_file', 'inactive_file'] : ['anon', 'file', 'file_mapped', 'kernel', 'sock', 'shmem', 'active_file', 'inactive_file']
    const picked: Record<string, number> = {}
    for (const key of wanted) {
      const value = stat[key]
      if (value !== undefined) picked[key] = round(value / MIB)
    }
    return picked
  }

  #number(file: string): number | undefined {
    const text = this.#read(file)?.trim()
    return text === undefined || !/^\d+$/.test(text) ? undefined : Number(text)
  }

  #read(file: string): string | undefined {
    try {
      return readFileSync(join(this.path, file), 'utf8')
    } catch {
      return undefined
    }
  }
}

function keyed(text: string | undefined): Record<string, number> {
  const values: Record<string, number> = {}
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/)
    if (key && value !== undefined && /^\d+$/.test(value)) values[key] = Number(value)
  }
  return values
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}
