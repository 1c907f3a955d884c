// The soak's report: a table per fault kind (count, longest recovery, duplicates, lost), the
// invariants with their figures, and the faults one by one; as markdown and as JSON.
import type { Attribution, Check } from './invariants.ts'
import { FAULT_KINDS, type Fault } from './nemesis.ts'

export interface Summary {
  seed: number
  minutes: number
  redis: string
  rate: number
  origins: number
  replicas: number
  sent: number
  startedAt: number
  wallMs: number
  checks: Check[]
  faults: Fault[]
  attribution: Attribution
  maxLag: number
}

export interface KindRow {
  kind: string
  count: number
  longestRecoveryMs: number | null
  duplicates: number
  lost: number
}

export function kindRows(s: Summary): KindRow[] {
  const rows: KindRow[] = FAULT_KINDS.map((kind) => {
    const faults = s.faults.filter((f) => f.kind === kind)
    const recoveries = faults.map((f) => (f.recoveredAt === undefined ? Infinity : f.recoveredAt - f.startedAt))
    return {
      kind,
      count: faults.length,
      longestRecoveryMs: recoveries.length === 0 ? null : Math.max(...recoveries),
      duplicates: faults.reduce((n, f) => n + (s.attribution.duplicates.get(f) ?? 0), 0),
      lost: faults.reduce((n, f) => n + (s.attribution.lost.get(f) ?? 0), 0),
    }
  })
  rows.push({ kind: '(no fault)', count: 0, longestRecoveryMs: null, duplicates: 0, lost: s.attribution.lost.get(undefined) ?? 0 })
  return rows
}

const seconds = (ms: number | null) => (ms === null ? '-' : Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'never')

export function markdown(s: Summary): string {
  const failed = s.checks.filter((c) => !c.ok)
  const lines = [
    `# Soak: ${failed.length === 0 ? 'PASSED' : `FAILED (${failed.length} invariant${failed.length > 1 ? 's' : ''})`}`,
    '',
    `${s.minutes} min of load (seed ${s.seed}), ${(s.wallMs / 60_000).toFixed(1)} min in all; ~${s.rate}/s with bursts, ${s.sent} results to ${s.origins} origins; ${s.replicas} replicas; Kafka: 3 brokers SASL_SSL; Redis: ${s.redis}; highest lag ${s.maxLag}.`,
    '',
    '| fault | count | longest recovery | duplicates | lost |',
    '|---|--:|--:|--:|--:|',
    ...kindRows(s).map((r) => `| ${r.kind} | ${r.count} | ${seconds(r.longestRecoveryMs)} | ${r.duplicates} | ${r.lost} |`),
    '',
    'Recovery: from the fault’s start until the group’s lag was back under the limit.',
    '',
    '| invariant | result | figures |',
    '|---|---|---|',
    ...s.checks.map((c) => `| ${c.name} | ${c.ok ? 'ok' : '**FAILED**'} | ${c.detail.replace(/\|/g, '/')} |`),
    '',
    '## Faults',
    '',
    ...s.faults.map((f) => `- +${((f.startedAt - s.startedAt) / 1000).toFixed(0)} s ${f.kind}: ${f.text.join('; ')} (${seconds((f.endedAt ?? f.startedAt) - f.startedAt)}; lag under the limit ${f.recoveredAt === undefined ? 'never' : `${seconds(f.recoveredAt - (f.endedAt ?? f.startedAt))} after`})`),
    '',
  ]
  return lines.join('\n')
}

export function json(s: Summary): string {
  return `${JSON.stringify(
    {
      passed: s.checks.every((c) => c.ok),
      seed: s.seed,
      minutes: s.minutes,
      redis: s.redis,
      rate: s.rate,
      origins: s.origins,
      replicas: s.replicas,
      sent: s.sent,
      wallMs: s.wallMs,
      maxLag: s.maxLag,
      kinds: kindRows(s),
      checks: s.checks,
      faults: s.faults.map((f) => ({ ...f, atMs: f.startedAt - s.startedAt })),
    },
    (_, value: unknown) => (value === Infinity ? null : value),
    2,
  )}\n`
}
