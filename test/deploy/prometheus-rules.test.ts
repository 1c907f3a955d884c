// deploy/prometheus/alerts.yaml: valid for promtool, its unit tests pass
// (deploy/prometheus/alerts.test.yaml), and every alert carries what an operator needs:
// a severity, a summary, a description and a runbook link to a section that exists.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { parse } from 'yaml'
import { ROOT } from '../helpers/service.ts'
import { PROMTOOL, runbookAnchors } from './prometheus.ts'

const RULES = join(ROOT, 'deploy/prometheus/alerts.yaml')

interface AlertRule {
  alert: string
  expr: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

test('promtool check rules', () => {
  const output = execFileSync(PROMTOOL, ['check', 'rules', RULES], { encoding: 'utf8' })
  assert.match(output, /SUCCESS: \d+ rules found/)
})

test('promtool test rules (alerts.test.yaml)', () => {
  const output = execFileSync(PROMTOOL, ['test', 'rules', join(ROOT, 'deploy/prometheus/alerts.test.yaml')], { encoding: 'utf8' })
  assert.match(output, /SUCCESS/)
})

test('every alert: severity, summary, description, a runbook section that exists, and a unit test', () => {
  const groups = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }).groups
  const alerts = groups.flatMap((group) => group.rules)
  const anchors = runbookAnchors()
  const unitTests = readFileSync(join(ROOT, 'deploy/prometheus/alerts.test.yaml'), 'utf8')
  assert.ok(alerts.length >= 10)
  for (const rule of alerts) {
    assert.match(rule.labels?.severity ?? '', /^(critical|warning|info)$/, rule.alert)
    assert.ok(rule.annotations?.summary, `${rule.alert}: summary`)
    assert.ok(rule.annotations.description, `${rule.alert}: description`)
    const link = /^docs\/runbook\.md#([a-z0-9-]+)$/.exec(rule.annotations.runbook_url ?? '')
    assert.ok(link?.[1], `${rule.alert}: runbook_url docs/runbook.md#…`)
    assert.ok(anchors.has(link[1]), `${rule.alert}: docs/runbook.md has no section #${link[1]}`)
    assert.match(unitTests, new RegExp(`alertname: ${rule.alert}\\b`), `${rule.alert} has a unit test`)
  }
})
