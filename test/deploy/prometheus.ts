// Helpers of the deploy/prometheus tests: promtool and prometheus (Debian's package,
// scripts/prometheus.sh ensure), a real Prometheus on a free port with its own data
// directory, and the anchors of docs/runbook.md.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, freePort, waitUntil } from '../helpers/service.ts'

export const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool'
export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus'

/** GitHub-style anchors of the headings of docs/runbook.md. */
export function runbookAnchors(): Set<string> {
  const text = readFileSync(join(ROOT, 'docs/runbook.md'), 'utf8')
  return new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      (match[1] ?? '')
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  )
}

export interface RunningPrometheus {
  readonly url: string
  /** An instant query: its result vector. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>
  /** Alerts firing now (state "firing"), by name. */
  firing(): Promise<Array<{ labels: Record<string, string> }>>
  stop(): Promise<void>
}

/**
 * A real Prometheus scraping `target` (host:port, job "notification-service") every second
 * and evaluating `rulesText` every second.
 */
export async function startPrometheus(target: string, rulesText: string): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'))
  writeFileSync(join(dir, 'alerts.yaml'), rulesText)
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'rule_files: [alerts.yaml]',
      'scrape_configs:',
      '  - job_name: notification-service',
      `    static_configs: [{ targets: ['${target}'] }]`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const url = `http://127.0.0.1:${port}`
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`)
    const body = (await response.json()) as { status: string; data: T; error?: string }
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`)
    return body.data
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${stderr}`)
      return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200
    }, 30_000, 'Prometheus ready')
  } catch (error) {
    await stop()
    throw error
  }
  return {
    url,
    query: async (expr) => (await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    firing: async () => (await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('/api/v1/alerts')).alerts.filter((alert) => alert.state === 'firing'),
    stop,
  }
}
