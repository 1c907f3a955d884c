import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { isWellFormedResult } from '../../../src/messages/result-shape.ts'
import { processingResultSchema } from '../../../src/messages/schemas.ts'
import { successResult } from '../../helpers/messages.ts'

const success = {
  ...successResult(1, 'https://client.example/hook', { recommendation: 'hire', verdict: 'good', extra: { kept: true } }),
  unknown: 'kept',
}

const failure = {
  success: false,
  response: { callback_url: 'https://client.example/hook', processing_id: 9, user_id: null, resume_id: null, requirements_id: null, score: null },
  message_error: 'model crashed',
  wait_seconds: 30,
}

const MISSING = Symbol('missing')

/** Values of every JSON type, and the edges the schema draws (integers, signs, URL rules, lengths). */
const VALUES: unknown[] = [
  MISSING,
  null,
  true,
  false,
  0,
  -0,
  1,
  -1,
  1.5,
  2 ** 53 - 1,
  2 ** 53,
  1e308,
  '',
  '1',
  'text',
  'https://client.example/hook',
  'http://127.0.0.1:8080/x?y=1',
  'ftp://client.example/hook',
  '/relative',
  'http://',
  'https://client.example/' + 'a'.repeat(2030),
  'https://client.example/' + 'a'.repeat(2020),
  [],
  ['a', 'b'],
  ['a', 1],
  [null],
  {},
  { nested: 1 },
]

function withValue(base: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(base)
  const [head, ...rest] = path
  if (rest.length === 0) {
    if (value === MISSING) delete copy[head!]
    else copy[head!] = value
    return copy
  }
  copy[head!] = withValue(copy[head!] as Record<string, unknown>, rest, value)
  return copy
}

function variants(base: Record<string, unknown>): Array<Record<string, unknown>> {
  const paths = [...Object.keys(base).map((key) => [key]), ...Object.keys(base.response as object).map((key) => ['response', key]), ['response', 'callback_url'], ['response', 'score']]
  return paths.flatMap((path) => VALUES.map((value) => withValue(base, path, value)))
}

describe('isWellFormedResult', () => {
  it('accepts the usual success and failure results', () => {
    assert.equal(isWellFormedResult(success), true)
    assert.equal(isWellFormedResult(failure), true)
  })

  it('agrees with processingResultSchema on every field set to every kind of value, and what it accepts is the parsed value', () => {
    let accepted = 0
    let refused = 0
    for (const base of [success, failure]) {
      for (const value of variants(base)) {
        const parsed = processingResultSchema.safeParse(value)
        const fast = isWellFormedResult(value)
        assert.equal(fast, parsed.success, `${JSON.stringify(value)}: fast check ${fast}, schema ${parsed.success}`)
        if (parsed.success) {
          assert.deepEqual(value, parsed.data)
          accepted++
        } else {
          refused++
        }
      }
    }
    // Both answers occur often, so the agreement above says something.
    assert.ok(accepted > 50 && refused > 300, `accepted ${accepted}, refused ${refused}`)
  })

  it('refuses results that are not objects where the schema wants one', () => {
    for (const response of [null, [], 'x', 1]) assert.equal(isWellFormedResult({ ...success, response }), false)
  })
})
