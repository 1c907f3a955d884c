// The memory this process may use: MEMORY_LIMIT_MB when set, else the tightest memory limit
// of the control groups it runs in (a container's limit), else none.
//
// cgroup v2 (unified hierarchy, most current hosts): /proc/self/cgroup has a line
// `0::/path`; the limit is `memory.max` ("max" = none) in /sys/fs/cgroup/path and in each
// ancestor up to the root. cgroup v1: the line `N:memory:/path` (or `N:…,memory,…:/path`);
// the limit is `memory.limit_in_bytes` (a value ≥ 2^62, a page-rounded 2^63 − 1, = none) under
// /sys/fs/cgroup/memory. Inside a container the process's path often does not exist under
// the mount (the mount shows the container's own group as its root), so every level of the
// path that exists is read, the mount's root included, and the smallest limit wins.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MEMORY_LIMIT_MB_RANGE } from '../config/defaults.ts'

const MIB = 1024 * 1024
/** cgroup v1 writes "no limit" as a huge page-rounded number (9223372036854771712). */
const V1_UNLIMITED = 2 ** 62

export interface CgroupPaths {
  /** The cgroup v2 path (`0::/path`), when the process is in a v2 hierarchy. */
  v2?: string
  /** The path in the v1 hierarchy that has the memory controller. */
  v1Memory?: string
}

/** The process's cgroup paths from the text of /proc/self/cgroup. */
export function parseProcCgroup(text: string): CgroupPaths {
  const paths: CgroupPaths = {}
  for (const line of text.split('\n')) {
    // hierarchy-ID:controller-list:path (the path may itself contain ':').
    const first = line.indexOf(':')
    const second = line.indexOf(':', first + 1)
    if (first < 0 || second < 0) continue
    const id = line.slice(0, first)
    const controllers = line.slice(first + 1, second)
    const path = line.slice(second + 1).trim()
    if (path === '') continue
    if (id === '0' && controllers === '') paths.v2 = path
    else if (controllers.split(',').includes('memory')) paths.v1Memory = path
  }
  return paths
}

/** Bytes of a v2 `memory.max`; undefined for "max" or anything unreadable. */
export function parseV2Max(text: string): number | undefined {
  const value = text.trim()
  if (value === 'max' || !/^\d+$/.test(value)) return undefined
  const bytes = Number(value)
  return bytes > 0 ? bytes : undefined
}

/** Bytes of a v1 `memory.limit_in_bytes`; undefined for "no limit" (≥ 2^62) or anything unreadable. */
export function parseV1Limit(text: string): number | undefined {
  const value = text.trim()
  if (!/^\d+$/.test(value)) return undefined
  const bytes = Number(value)
  return bytes > 0 && bytes < V1_UNLIMITED ? bytes : undefined
}

/** `/a/b/c` → [`/a/b/c`, `/a/b`, `/a`, `/`]. */
export function selfAndAncestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean)
  const list: string[] = []
  for (let length = parts.length; length >= 0; length--) list.push(`/${parts.slice(0, length).join('/')}`)
  return list
}

export interface CgroupRoots {
  /** Text of /proc/self/cgroup. */
  procSelfCgroup: string
  /** Mount point of the v2 hierarchy (/sys/fs/cgroup; on hybrid hosts /sys/fs/cgroup/unified). */
  v2Mounts: readonly string[]
  /** Mount point of the v1 memory controller (/sys/fs/cgroup/memory). */
  v1MemoryMount: string
}

const SYSTEM_ROOTS = {
  procSelfCgroupFile: '/proc/self/cgroup',
  v2Mounts: ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'],
  v1MemoryMount: '/sys/fs/cgroup/memory',
} as const

/**
 * The tightest cgroup memory limit in bytes over the process's own groups and their
 * ancestors, in both hierarchies; undefined when none is set.
 */
export function cgroupLimitBytes(roots: CgroupRoots, read: (file: string) => string | undefined = readOrUndefined): number | undefined {
  const paths = parseProcCgroup(roots.procSelfCgroup)
  const limits: number[] = []
  if (paths.v2 !== undefined) {
    for (const mount of roots.v2Mounts) {
      for (const path of selfAndAncestors(paths.v2)) {
        const text = read(join(mount, path, 'memory.max'))
        const bytes = text === undefined ? undefined : parseV2Max(text)
        if (bytes !== undefined) limits.push(bytes)
      }
    }
  }
  if (paths.v1Memory !== undefined) {
    for (const path of selfAndAncestors(paths.v1Memory)) {
      const text = read(join(roots.v1MemoryMount, path, 'memory.limit_in_bytes'))
      const bytes = text === undefined ? undefined : parseV1Limit(text)
      if (bytes !== undefined) limits.push(bytes)
    }
  }
  return limits.length === 0 ? undefined : Math.min(...limits)
}

/** MEMORY_LIMIT_MB as the service's configuration accepts it (an integer in MEMORY_LIMIT_MB_RANGE), else undefined. */
export function parseMemoryLimitEnv(value: string | undefined): number | undefined {
  const text = value?.trim()
  if (text === undefined || !/^\d+$/.test(text)) return undefined
  const mb = Number(text)
  return Number.isSafeInteger(mb) && mb >= MEMORY_LIMIT_MB_RANGE.min && mb <= MEMORY_LIMIT_MB_RANGE.max ? mb : undefined
}

export interface MemoryLimit {
  /** MiB. */
  mb: number
  source: 'MEMORY_LIMIT_MB' | 'cgroup'
}

/** The effective limit of this process: MEMORY_LIMIT_MB if set, else its cgroups'; undefined when none. */
export function memoryLimit(env: NodeJS.ProcessEnv = process.env, read: (file: string) => string | undefined = readOrUndefined): MemoryLimit | undefined {
  const configured = parseMemoryLimitEnv(env.MEMORY_LIMIT_MB)
  if (configured !== undefined) return { mb: configured, source: 'MEMORY_LIMIT_MB' }
  const procSelfCgroup = read(SYSTEM_ROOTS.procSelfCgroupFile)
  if (procSelfCgroup === undefined) return undefined
  const bytes = cgroupLimitBytes({ procSelfCgroup, v2Mounts: SYSTEM_ROOTS.v2Mounts, v1MemoryMount: SYSTEM_ROOTS.v1MemoryMount }, read)
  return bytes === undefined ? undefined : { mb: Math.floor(bytes / MIB), source: 'cgroup' }
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}
