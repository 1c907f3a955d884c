// Summarises a V8 .cpuprofile (written by the service child under --cpu-prof): self time
// per function and per package.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './paths.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/**
 * Only the samples taken between `fromMs` and `toMs` (ms epoch). The profile's clock is not
 * the wall clock: its end is taken to be `endMs`, when the process exited (it writes the
 * profile as it exits), which places the window to within a few ms.
 */
export interface ProfileWindow {
  readonly fromMs: number
  readonly toMs: number
  readonly endMs: number
}

export interface ProfileSummary {
  file: string
  totalMs: number
  topFunctions: Array<{ fn: string; where: string; selfMs: number; pct: number }>
  byPackage: Array<{ pkg: string; selfMs: number; pct: number }>
}

/** The newest .cpuprofile in `dir` written after `since` (ms epoch). */
export function newestProfile(dir: string, since: number): string | undefined {
  let best: { file: string; mtime: number } | undefined
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.cpuprofile')) continue
    const file = join(dir, name)
    const mtime = statSync(file).mtimeMs
    if (mtime >= since && (!best || mtime > best.mtime)) best = { file, mtime }
  }
  return best?.file
}

export function summariseProfile(file: string, top = 15, window?: ProfileWindow): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<number, number>()
  // Sample times in the profile's clock (µs), and the window in it.
  const from = window === undefined ? -Infinity : profile.endTime - (window.endMs - window.fromMs) * 1000
  const to = window === undefined ? Infinity : profile.endTime - (window.endMs - window.toMs) * 1000
  let at = profile.startTime
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0
    at += delta
    if (at >= from && at <= to) selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
  })
  let totalUs = 0
  const byFunction = new Map<string, { fn: string; where: string; us: number }>()
  const byPackage = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame
    if (!frame) continue
    totalUs += us
    const where = shortUrl(frame.url, frame.lineNumber)
    const fn = frame.functionName || '(anonymous)'
    const key = `${fn} ${where}`
    const entry = byFunction.get(key) ?? { fn, where, us: 0 }
    entry.us += us
    byFunction.set(key, entry)
    const pkg = packageOf(frame.url, fn)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us)
  }
  const pct = (us: number) => Math.round((us / Math.max(1, totalUs)) * 1000) / 10
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((entry) => ({ fn: entry.fn, where: entry.where, selfMs: Math.round(entry.us / 1000), pct: pct(entry.us) })),
    byPackage: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([pkg, us]) => ({ pkg, selfMs: Math.round(us / 1000), pct: pct(us) })),
  }
}

export function shortUrl(url: string, line: number): string {
  if (url === '') return ''
  const path = url.replace(/^file:\/\//, '').replace(ROOT, '')
  return `${path}:${line + 1}`
}

export function packageOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)'
  if (url.startsWith('node:')) return 'node: core'
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (modules?.[1]) return modules[1]
  const path = url.replace(/^file:\/\//, '').replace(ROOT, '')
  return path.startsWith('src/') ? path.split('/').slice(0, 2).join('/') : path
}
