// RSS and CPU of processes from /proc: VmRSS of /proc/<pid>/status and utime+stime of
// /proc/<pid>/stat, sampled on an interval. CPU % is of one core.
import { readFileSync } from 'node:fs'

/** /proc/<pid>/stat counts CPU time in USER_HZ ticks, which Linux fixes at 100 per second. */
const TICKS_PER_SECOND = 100

export interface Sample {
  /** ms epoch */
  t: number
  rssKb: number
  /** utime + stime, in ticks */
  ticks: number
}

export function readProc(pid: number): Sample | undefined {
  try {
    const t = Date.now()
    const status = readFileSync(`/proc/${pid}/status`, 'latin1')
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // Fields after the command name (which may contain spaces) start at state (field 3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const utime = Number(fields[11])
    const stime = Number(fields[12])
    if (!rss?.[1] || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined
    return { t, rssKb: Number(rss[1]), ticks: utime + stime }
  } catch {
    return undefined
  }
}

export interface ProcessUsage {
  pid: number
  peakRssMb: number
  /** Mean CPU % (of one core) over the window asked for. */
  meanCpuPct: number
  /** Highest CPU % over one sampling interval. */
  peakCpuPct: number
}

export class ProcSampler {
  readonly #series = new Map<string, { pid: number; samples: Sample[]; active: boolean }>()
  readonly #timer: NodeJS.Timeout
  readonly intervalMs: number

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs
    this.#timer = setInterval(() => this.sampleNow(), intervalMs)
  }

  /** Starts sampling a process under a name (a later add with the same name replaces it). */
  add(name: string, pid: number): void {
    this.#series.set(name, { pid, samples: [], active: true })
    this.sampleNow()
  }

  /** Takes a last sample and stops sampling a process (before it exits). */
  finish(name: string): void {
    const series = this.#series.get(name)
    if (!series?.active) return
    const sample = readProc(series.pid)
    if (sample) series.samples.push(sample)
    series.active = false
  }

  sampleNow(): void {
    for (const series of this.#series.values()) {
      if (!series.active) continue
      const sample = readProc(series.pid)
      if (sample) series.samples.push(sample)
    }
  }

  latest(name: string): Sample | undefined {
    return this.#series.get(name)?.samples.at(-1)
  }

  /** CPU % over the last interval or so (for the progress bar). */
  recentCpuPct(name: string): number {
    const samples = this.#series.get(name)?.samples ?? []
    const last = samples.at(-1)
    const before = samples.at(-2)
    return last && before ? cpuPct(before, last) : 0
  }

  peakRssMb(name: string): number {
    return Math.max(0, ...(this.#series.get(name)?.samples ?? []).map((sample) => sample.rssKb)) / 1024
  }

  /** Usage over [from, to] (ms epoch), bracketed by the samples just outside it. */
  usage(name: string, from = 0, to = Number.MAX_SAFE_INTEGER): ProcessUsage | undefined {
    const series = this.#series.get(name)
    if (!series || series.samples.length < 2) return undefined
    const { samples } = series
    let start = 0
    while (start + 1 < samples.length && (samples[start + 1] as Sample).t <= from) start++
    let end = samples.length - 1
    while (end - 1 > start && (samples[end - 1] as Sample).t >= to) end--
    const first = samples[start] as Sample
    const last = samples[end] as Sample
    let peakCpuPct = 0
    for (let index = start + 1; index <= end; index++) peakCpuPct = Math.max(peakCpuPct, cpuPct(samples[index - 1] as Sample, samples[index] as Sample))
    return { pid: series.pid, peakRssMb: this.peakRssMb(name), meanCpuPct: cpuPct(first, last), peakCpuPct }
  }

  /** Samples of one process, relative to `since`, for the result file. */
  timeline(name: string, since: number): Array<{ s: number; rssMb: number; cpuPct: number }> {
    const samples = this.#series.get(name)?.samples ?? []
    return samples.map((sample, index) => ({
      s: round((sample.t - since) / 1000, 1),
      rssMb: round(sample.rssKb / 1024, 1),
      cpuPct: index === 0 ? 0 : round(cpuPct(samples[index - 1] as Sample, sample), 1),
    }))
  }

  stop(): void {
    clearInterval(this.#timer)
  }
}

function cpuPct(a: Sample, b: Sample): number {
  const seconds = (b.t - a.t) / 1000
  return seconds > 0 ? ((b.ticks - a.ticks) / TICKS_PER_SECOND / seconds) * 100 : 0
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
