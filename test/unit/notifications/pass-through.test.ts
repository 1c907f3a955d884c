import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { withoutResponseCallbackUrl } from '../../../src/notifications/pass-through.ts'
import { buildResultNotification } from '../../../src/notifications/payload.ts'
import { processingResultSchema } from '../../../src/messages/schemas.ts'

const URL_ = 'https://client.example/hook'
const NOW = new Date('2026-11-27T12:00:00.000Z')

/** What the service sent before: the parsed result rebuilt without response.callback_url and serialised again. */
function reserialised(text: string): string {
  const raw = JSON.parse(text) as Record<string, unknown>
  const { callback_url: _removed, ...response } = raw.response as Record<string, unknown>
  return JSON.stringify({ ...raw, response })
}

function expectedValue(text: string): unknown {
  return JSON.parse(reserialised(text))
}

/** A small deterministic generator, so a failing case can be run again. */
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

const TRICKY_STRINGS = ['', 'plain', 'with "quotes"', 'back\\slash', 'braces {}[],:', '"callback_url":"x"', 'line\nbreak\ttab', 'unicode é 漢字 🎉', '\u0000\u001f control', '\\"', 'ends with \\']

function randomValue(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 2 ? 5 : 7))
  switch (pick) {
    case 0:
      return TRICKY_STRINGS[Math.floor(next() * TRICKY_STRINGS.length)]
    case 1:
      return [0, -1, 1.5, 1e21, -0.001, 123456789012][Math.floor(next() * 6)]
    case 2:
      return [true, false, null][Math.floor(next() * 3)]
    case 3:
      return TRICKY_STRINGS[Math.floor(next() * TRICKY_STRINGS.length)]
    case 4:
      return Math.floor(next() * 1000)
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1))
    default: {
      const object: Record<string, unknown> = {}
      for (let i = Math.floor(next() * 4); i > 0; i--) object[['a', 'callback_url', 'response', 'nested', 'x y', '{'][Math.floor(next() * 6)]!] = randomValue(next, depth + 1)
      return object
    }
  }
}

/** A result whose response has callback_url at a random place among random members, with random extra top-level members. */
function randomResult(seed: number): Record<string, unknown> {
  const next = random(seed)
  const members: Array<[string, unknown]> = [
    ['processing_id', 42],
    ['score', 50],
    ['matches', ['Python', 'SQL']],
    ['recommendation', randomValue(next, 3)],
    ['extra', randomValue(next, 1)],
  ].slice(0, 1 + Math.floor(next() * 5)) as Array<[string, unknown]>
  if (next() < 0.9) members.splice(Math.floor(next() * (members.length + 1)), 0, ['callback_url', URL_])
  const top: Array<[string, unknown]> = [
    ['success', true],
    ['message_error', null],
    ['wait_seconds', null],
    ['unknown', randomValue(next, 0)],
  ]
  top.splice(Math.floor(next() * (top.length + 1)), 0, ['response', Object.fromEntries(members)])
  return Object.fromEntries(top)
}

/** JSON with whitespace between tokens where JSON allows it (as pretty printers and Python's json.dumps write). */
function spaced(value: unknown, next: () => number): string {
  const space = () => [' ', '', '\n  ', '\t', '\r\n'][Math.floor(next() * 5)]!
  if (Array.isArray(value)) return `[${space()}${value.map((item) => `${spaced(item, next)}${space()}`).join(`,${space()}`)}]`
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}${space()}:${space()}${spaced(item, next)}${space()}`)
    return `{${space()}${members.join(`,${space()}`)}}`
  }
  return JSON.stringify(value)
}

describe('withoutResponseCallbackUrl', () => {
  it('gives, for compact JSON, byte for byte what re-serialising the parsed result gave (2,000 generated results)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const text = JSON.stringify(randomResult(seed))
      assert.equal(withoutResponseCallbackUrl(text), reserialised(text), `seed ${seed}: ${text}`)
    }
  })

  it('keeps any other formatting as received and cuts only the member: the client reads the same value (2,000 generated results)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const next = random(seed * 7919)
      const text = spaced(randomResult(seed), next)
      const body = withoutResponseCallbackUrl(text)
      assert.ok(body !== undefined, `seed ${seed}: refused ${text}`)
      assert.deepEqual(JSON.parse(body), expectedValue(text), `seed ${seed}: ${text}`)
      assert.ok(!body.includes(URL_), `seed ${seed}: the callback URL was sent: ${body}`)
    }
  })

  it("keeps the bytes of Python's json.dumps as they were, spaces and \\u escapes included", () => {
    const text = '{"success": true, "response": {"callback_url": "https://client.example/hook", "processing_id": 7, "score": 87.0, "verdict": "\\u043f\\u043e\\u0434\\u0445\\u043e\\u0434\\u0438\\u0442"}, "message_error": null, "wait_seconds": null}'
    assert.equal(
      withoutResponseCallbackUrl(text),
      '{"success": true, "response": {"processing_id": 7, "score": 87.0, "verdict": "\\u043f\\u043e\\u0434\\u0445\\u043e\\u0434\\u0438\\u0442"}, "message_error": null, "wait_seconds": null}',
    )
  })

  it('cuts callback_url whether it is first, in the middle, last or alone', () => {
    const cases: Array<[string, string]> = [
      ['{"response":{"callback_url":"u","a":1,"b":2}}', '{"response":{"a":1,"b":2}}'],
      ['{"response":{"a":1,"callback_url":"u","b":2}}', '{"response":{"a":1,"b":2}}'],
      ['{"response":{"a":1,"b":2,"callback_url":"u"}}', '{"response":{"a":1,"b":2}}'],
      ['{"response":{"callback_url":"u"}}', '{"response":{}}'],
      ['{ "response" : { "a" : 1 , "callback_url" : "u" } }', '{ "response" : { "a" : 1 } }'],
      ['{"response":{"callback_url":"u" , "a":1}}', '{"response":{"a":1}}'],
    ]
    for (const [text, body] of cases) assert.equal(withoutResponseCallbackUrl(text), body, text)
  })

  it('leaves callback_url members elsewhere (top level, nested, inside strings) alone', () => {
    const text = '{"callback_url":"top","response":{"nested":{"callback_url":"deep"},"note":"\\"callback_url\\":\\"in a string\\"","callback_url":"u"},"list":[{"callback_url":"in a list"}]}'
    assert.equal(withoutResponseCallbackUrl(text), reserialised(text))
  })

  it('sends the text unchanged when response has no callback_url', () => {
    const text = '{"success": true, "response": {"processing_id": 1}}'
    assert.equal(withoutResponseCallbackUrl(text), text)
  })

  it('refuses where JSON.parse may read another member than the text shows, so the parsed object is serialised instead', () => {
    for (const text of [
      '{"response":{"callback_url":"u"},"response":{"callback_url":"v","a":1}}',
      '{"response":{"callback_url":"u","callback_url":"v"}}',
      '{"respons\\u0065":{"callback_url":"u"},"response":{"a":1}}',
      '{"response":{"a":1},"respons\\u0065":{"callback_url":"u"}}',
      '{"response":{"callback\\u005furl":"u"}}',
      '{"response":["callback_url"]}',
      '{"other":1}',
      '[1]',
    ]) {
      assert.equal(withoutResponseCallbackUrl(text), undefined, text)
    }
  })
})

describe('buildResultNotification: the success body', () => {
  const raw = {
    success: true,
    response: { callback_url: URL_, processing_id: 42, user_id: 2, resume_id: 3, requirements_id: 4, score: 50, matches: ['Python'], recommendation: 'r', verdict: 'v' },
    message_error: null,
    wait_seconds: null,
  }
  const result = processingResultSchema.parse(raw)

  it('is cut out of the received text', () => {
    const text = '{"success":true, "response":{"callback_url":"https://client.example/hook","processing_id":42,"user_id":2,"resume_id":3,"requirements_id":4,"score":50.0,"matches":["Python"],"recommendation":"r","verdict":"v"},"message_error":null,"wait_seconds":null}'
    const notification = buildResultNotification(result, { raw, text }, URL_, NOW)
    assert.equal(notification.body, text.replace('"callback_url":"https://client.example/hook",', ''))
  })

  it('is the parsed result serialised again where the text cannot be cut safely, and never carries the callback URL', () => {
    const text = `{"success":true,"response":{"callback_url":"https://attacker.example/x"},"respons\\u0065":${JSON.stringify(raw.response)},"message_error":null,"wait_seconds":null}`
    const parsed = JSON.parse(text) as Record<string, unknown>
    const notification = buildResultNotification(processingResultSchema.parse(parsed), { raw: parsed, text }, URL_, NOW)
    assert.equal(notification.body, reserialised(text))
    assert.ok(!notification.body.includes('callback_url'))
  })
})
