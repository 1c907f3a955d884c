// Summarises the allocation profile alloc-probe.ts writes under `--alloc-profile` (V8's
// sampling heap profiler, collected objects included): bytes allocated per function (self)
// and per package, over the service's whole life.
import { readFileSync } from 'node:fs'
import { packageOf, shortUrl } from './profile.ts'

interface AllocationNode {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: AllocationNode[]
}

export interface AllocationSummary {
  file: string
  totalMb: number
  topFunctions: Array<{ fn: string; where: string; mb: number; pct: number }>
  byPackage: Array<{ pkg: string; mb: number; pct: number }>
}

export function summariseAllocations(file: string, top = 15): AllocationSummary {
  const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: AllocationNode }).head
  const byFunction = new Map<string, { fn: string; where: string; bytes: number }>()
  const byPackage = new Map<string, number>()
  let total = 0
  const stack = [head]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    stack.push(...node.children)
    if (node.selfSize === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    total += node.selfSize
    const fn = functionName || '(anonymous)'
    const where = shortUrl(url, lineNumber)
    const key = `${fn} ${where}`
    const entry = byFunction.get(key) ?? { fn, where, bytes: 0 }
    entry.bytes += node.selfSize
    byFunction.set(key, entry)
    const pkg = packageOf(url, fn)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + node.selfSize)
  }
  const mb = (bytes: number) => Math.round(bytes / 1024 / 102.4) / 10
  const pct = (bytes: number) => Math.round((bytes / Math.max(1, total)) * 1000) / 10
  return {
    file,
    totalMb: mb(total),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, top)
      .map((entry) => ({ fn: entry.fn, where: entry.where, mb: mb(entry.bytes), pct: pct(entry.bytes) })),
    byPackage: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([pkg, bytes]) => ({ pkg, mb: mb(bytes), pct: pct(bytes) })),
  }
}
