// Summarises bench/lib/wait-probe.ts's samples over the delivery window: the event loop's
// busy share, the input loop's in-flight count against its limit, and, by Little's law (mean
// number in a state = item-time in it ÷ window), where the records in flight were.
import { readFileSync } from 'node:fs'

interface LevelTaken {
  area: number
  busy: number
  ends: number
  now: number
}

interface ProbeLine {
  t: number
  dt: number
  elu: number
  cpu: number
  loops: Array<{ name: string; inFlight: number; limit: number }>
  originLimit: number
  levels: Record<string, LevelTaken>
}

export interface WaitSummary {
  samples: number
  windowMs: number
  /** Mean and lowest event-loop utilisation of the 100 ms samples. */
  elu: { mean: number; min: number; p10: number }
  /** The process's CPU time ÷ wall time, over the same samples (below the busy share: runnable but not running, or waiting on a page fault). */
  cpu: number
  input: { meanInFlight: number; meanLimit: number; atLimitPct: number; belowHalfPct: number }
  meanOriginLimit: number
  /** Per state: mean number in it, share of the window with ≥ 1 in it, ends per second, mean time in it (ms). */
  states: Record<string, { mean: number; busyPct: number; perSecond: number; meanMs: number | null }>
}

export function summariseWaits(file: string, from: number, to: number): WaitSummary | undefined {
  let lines: ProbeLine[]
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as ProbeLine)
  } catch {
    return undefined
  }
  // A line covers the dt ms before its t: keep those wholly inside the window.
  const inside = lines.filter((line) => line.t - line.dt >= from && line.t <= to)
  if (inside.length === 0) return undefined
  const windowMs = inside.reduce((sum, line) => sum + line.dt, 0)
  const weighted = (value: (line: ProbeLine) => number) => inside.reduce((sum, line) => sum + value(line) * line.dt, 0) / windowMs
  const input = inside.map((line) => line.loops.find((loop) => loop.name === 'input') ?? { inFlight: 0, limit: 0 })
  const elus = inside.map((line) => line.elu).sort((a, b) => a - b)
  const totals = new Map<string, { area: number; busy: number; ends: number }>()
  for (const line of inside) {
    for (const [name, taken] of Object.entries(line.levels)) {
      const total = totals.get(name) ?? { area: 0, busy: 0, ends: 0 }
      total.area += taken.area
      total.busy += taken.busy
      total.ends += taken.ends
      totals.set(name, total)
    }
  }
  const states: WaitSummary['states'] = {}
  for (const [name, total] of [...totals].sort((a, b) => a[0].localeCompare(b[0]))) {
    states[name] = {
      mean: total.area / windowMs,
      busyPct: (100 * total.busy) / windowMs,
      perSecond: (1000 * total.ends) / windowMs,
      meanMs: total.ends > 0 ? total.area / total.ends : null,
    }
  }
  return {
    samples: inside.length,
    windowMs,
    elu: { mean: weighted((line) => line.elu), min: elus[0] ?? 0, p10: elus[Math.floor(elus.length * 0.1)] ?? 0 },
    cpu: weighted((line) => line.cpu),
    input: {
      meanInFlight: mean(input.map((loop) => loop.inFlight)),
      meanLimit: mean(input.map((loop) => loop.limit)),
      atLimitPct: (100 * input.filter((loop) => loop.inFlight >= loop.limit).length) / input.length,
      belowHalfPct: (100 * input.filter((loop) => loop.inFlight < loop.limit / 2).length) / input.length,
    },
    meanOriginLimit: mean(inside.map((line) => line.originLimit)),
    states,
  }
}

/** The "waiting on" table: rows for the bench's output. */
export function waitRows(summary: WaitSummary): Array<[string, string]> {
  const { input, states, elu } = summary
  const state = (name: string) => states[name]
  const fmt = (value: number, digits = 1) => value.toFixed(digits)
  const describe = (name: string, label: string): [string, string] | undefined => {
    const found = state(name)
    if (!found) return undefined
    const ms = found.meanMs === null ? '' : `, ${fmt(found.meanMs, 2)} ms each`
    return [label, `${fmt(found.mean)} on average (${fmt(found.busyPct, 0)} % of the time ≥ 1)${ms}, ${Math.round(found.perSecond)}/s`]
  }
  const batchers = Object.keys(states).filter((name) => name.endsWith('.linger')).map((name) => name.slice(0, -'.linger'.length))
  const accounted = ['admit.wait', 'http', ...batchers.flatMap((name) => [`${name}.linger`, `${name}.trip`])].reduce((sum, name) => sum + (state(name)?.mean ?? 0), 0)
  const rows: Array<[string, string | undefined] | undefined> = [
    ['event loop busy (100 ms samples): mean / p10 / min', `${fmt(elu.mean * 100)} % / ${fmt(elu.p10 * 100)} % / ${fmt(elu.min * 100)} %`],
    ['process CPU (all threads) ÷ wall time, same samples', `${fmt(summary.cpu * 100)} %`],
    ['input loop: records in flight / its limit (mean)', `${fmt(input.meanInFlight)} / ${fmt(input.meanLimit)}; at the limit ${fmt(input.atLimitPct, 0)} % of samples, below half of it ${fmt(input.belowHalfPct, 0)} %`],
    ['origins: slots held / their concurrency limits, summed (mean)', `${fmt(state('origin.tickets')?.mean ?? 0)} / ${fmt(summary.meanOriginLimit)}`],
    describe('admit.wait', 'records waiting for an origin slot'),
    describe('http', 'records in an HTTP request'),
    ...batchers.flatMap((name) => [describe(`${name}.linger`, `${name}: lingering in the batcher`), describe(`${name}.trip`, `${name}: batch under way`), state(`${name}.batches`) ? [`${name}: batches/s, mean batch`, `${Math.round(state(`${name}.batches`)!.perSecond)}/s, ${fmt((state(`${name}.trip`)?.perSecond ?? 0) / Math.max(1e-9, state(`${name}.batches`)!.perSecond))} items`] as [string, string] : undefined]),
    ['in flight elsewhere (queued for the CPU, between stages)', fmt(Math.max(0, input.meanInFlight - accounted))],
    describe('redis', 'Redis commands outstanding'),
    describe('kafka.fetch.input', 'Kafka fetches under way (input loop)'),
    describe('kafka.fetch.retry', 'Kafka fetches under way (retry tiers, long polls)'),
    describe('kafka.produce', 'Kafka produce requests under way'),
  ]
  return rows.filter((row): row is [string, string] => row !== undefined && row[1] !== undefined)
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length
}
