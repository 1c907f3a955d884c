import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { summariseWaits, waitRows } from '../../../bench/lib/waits.ts'

function probeLine(t: number, inFlight: number, levels: Record<string, { area: number; busy: number; ends: number }>) {
  return JSON.stringify({ t, dt: 100, elu: 0.8, cpu: 0.7, loops: [{ name: 'input', inFlight, limit: 200 }], originLimit: 32, levels: Object.fromEntries(Object.entries(levels).map(([name, level]) => [name, { ...level, now: 0 }])) })
}

describe('the wait probe summary', () => {
  it('keeps the samples inside the delivery window and gives each stage its mean count and time per record (Little)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'waits-')), 'probe.jsonl')
    // 100 records/s through HTTP, each 20 ms: 2 in it on average (area 200 item-ms per 100 ms).
    const http = { area: 200, busy: 100, ends: 10 }
    writeFileSync(file, [probeLine(1000, 0, {}), probeLine(1100, 200, { http }), probeLine(1200, 100, { http }), probeLine(1300, 0, {})].join('\n'))
    const summary = summariseWaits(file, 1000, 1200)
    assert.ok(summary)
    assert.equal(summary.samples, 2)
    assert.equal(summary.windowMs, 200)
    assert.equal(summary.input.meanInFlight, 150)
    assert.equal(summary.input.atLimitPct, 50)
    assert.deepEqual(summary.states.http, { mean: 2, busyPct: 100, perSecond: 100, meanMs: 20 })
    const rows = new Map(waitRows(summary))
    assert.match(rows.get('records in an HTTP request') ?? '', /^2\.0 on average .* 20\.00 ms each, 100\/s$/)
    assert.equal(rows.get('in flight elsewhere (queued for the CPU, between stages)'), '148.0')
  })

  it('says nothing when the probe wrote no sample inside the window', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'waits-')), 'probe.jsonl')
    writeFileSync(file, probeLine(5000, 1, {}))
    assert.equal(summariseWaits(file, 0, 1000), undefined)
    assert.equal(summariseWaits(join(tmpdir(), 'no-such-probe.jsonl'), 0, 1000), undefined)
  })
})
