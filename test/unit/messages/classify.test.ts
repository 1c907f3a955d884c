import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { classify, MAX_MESSAGE_BYTES } from '../../../src/messages/classify.ts'
import type { Classified } from '../../../src/messages/classify.ts'
import { PoisonMessageError } from '../../../src/errors.ts'

const KEY = 'new_sending'

function successResult(): Record<string, unknown> {
  return {
    success: true,
    response: {
      callback_url: 'https://client.example/hook',
      processing_id: 1,
      user_id: 2,
      resume_id: 3,
      requirements_id: 4,
      score: 50,
      matches: ['Python', 'SQL'],
      recommendation: 'hire',
      verdict: 'good',
    },
    message_error: null,
    wait_seconds: null,
  }
}

function request(): Record<string, unknown> {
  return {
    callback_url: 'https://client.example/hook',
    processing_id: 7,
    user_id: 2,
    resume_id: 3,
    requirements_id: 4,
    requirements: 'Python',
    resume: 'text',
  }
}

function buf(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value))
}

function expectPoison(classified: Classified, code: string): PoisonMessageError {
  assert.equal(classified.kind, 'poison')
  if (classified.kind !== 'poison') throw new Error('unreachable')
  assert.ok(classified.error instanceof PoisonMessageError)
  assert.equal(classified.error.code, code)
  assert.equal(classified.error.canRetry, false)
  return classified.error
}

describe('classify: results', () => {
  it('classifies a valid success result with our key as a result, keeping the raw object', () => {
    const input = { ...successResult(), extra_field: { nested: true } }
    const classified = classify(KEY, buf(input), KEY)
    assert.equal(classified.kind, 'result')
    if (classified.kind !== 'result') return
    assert.equal(classified.result.success, true)
    assert.equal(classified.result.response.processing_id, 1)
    assert.deepEqual(classified.raw, input)
  })

  it('accepts a failure result with nulls for the AI fields', () => {
    const input = {
      success: false,
      response: {
        callback_url: 'https://client.example/hook',
        processing_id: 9,
        user_id: null,
        resume_id: null,
        requirements_id: null,
        score: null,
        matches: null,
        recommendation: null,
        verdict: null,
      },
      message_error: 'model crashed',
      wait_seconds: null,
    }
    const classified = classify(KEY, buf(input), KEY)
    assert.equal(classified.kind, 'result')
    if (classified.kind !== 'result') return
    assert.equal(classified.result.success, false)
    assert.equal(classified.result.response.processing_id, 9)
    assert.equal(classified.result.message_error, 'model crashed')
  })

  it('accepts a result without callback_url', () => {
    const input = successResult()
    delete (input.response as Record<string, unknown>).callback_url
    const classified = classify(KEY, buf(input), KEY)
    assert.equal(classified.kind, 'result')
    if (classified.kind !== 'result') return
    assert.equal(classified.result.response.callback_url, undefined)
  })

  it('classifies a result under the AI handler key new_request as a result', () => {
    const classified = classify('new_request', buf(successResult()), 'new_request')
    assert.equal(classified.kind, 'result')
  })
})

describe('classify: requests', () => {
  it('classifies the request shape as a request', () => {
    const classified = classify('new_request', buf(request()), 'new_request')
    assert.equal(classified.kind, 'request')
    if (classified.kind !== 'request') return
    assert.equal(classified.request.processing_id, 7)
    assert.equal(classified.request.callback_url, 'https://client.example/hook')
  })
})

describe('classify: foreign', () => {
  it('skips any other key, even with our shape', () => {
    assert.deepEqual(classify('other_key', buf(successResult()), KEY), { kind: 'foreign' })
    assert.deepEqual(classify('other_key', Buffer.from('not json'), KEY), { kind: 'foreign' })
  })

  it('treats a keyless non-JSON message as foreign', () => {
    assert.deepEqual(classify(undefined, Buffer.from('{not json'), KEY), { kind: 'foreign' })
  })

  it('treats a keyless JSON object without our shape as foreign', () => {
    assert.deepEqual(classify(undefined, buf({ hello: 'world' }), KEY), { kind: 'foreign' })
  })
})

describe('classify: keyless messages of our shape are ours', () => {
  it('classifies a keyless result as a result', () => {
    assert.equal(classify(undefined, buf(successResult()), KEY).kind, 'result')
  })

  it('classifies an empty-string key like no key', () => {
    assert.equal(classify('', buf(successResult()), KEY).kind, 'result')
  })

  it('classifies a keyless request as a request', () => {
    assert.equal(classify(undefined, buf(request()), 'new_request').kind, 'request')
  })

  it('treats a keyless message of our shape that fails the schema as poison', () => {
    const input = successResult()
    ;(input.response as Record<string, unknown>).score = 'high'
    expectPoison(classify(undefined, buf(input), KEY), 'MESSAGE_SCHEMA')
  })
})

describe('classify: poison', () => {
  it('rejects our key with a value that is not JSON as MESSAGE_NOT_JSON', () => {
    expectPoison(classify(KEY, Buffer.from('{"success": tru'), KEY), 'MESSAGE_NOT_JSON')
  })

  it('rejects our key with an empty value as MESSAGE_NOT_JSON', () => {
    expectPoison(classify(KEY, Buffer.alloc(0), KEY), 'MESSAGE_NOT_JSON')
    expectPoison(classify(KEY, undefined, KEY), 'MESSAGE_NOT_JSON')
  })

  it('rejects our key with JSON that is not an object', () => {
    expectPoison(classify(KEY, buf([1, 2]), KEY), 'MESSAGE_SCHEMA')
    expectPoison(classify(KEY, buf('text'), KEY), 'MESSAGE_SCHEMA')
  })

  it('rejects our key with an object of neither shape', () => {
    expectPoison(classify(KEY, buf({ hello: 'world' }), KEY), 'MESSAGE_SCHEMA')
  })

  it('reports a schema failure as MESSAGE_SCHEMA with the field path', () => {
    const input = successResult()
    ;(input.response as Record<string, unknown>).score = 'high'
    const error = expectPoison(classify(KEY, buf(input), KEY), 'MESSAGE_SCHEMA')
    assert.match(error.message, /response\.score/)
  })

  it('reports a request missing a field with its path', () => {
    const input = request()
    delete input.user_id
    const error = expectPoison(classify('new_request', buf(input), 'new_request'), 'MESSAGE_SCHEMA')
    assert.match(error.message, /user_id/)
  })

  for (const url of ['ftp://x', '/relative']) {
    it(`rejects callback_url ${url} as CALLBACK_URL_INVALID`, () => {
      const result = successResult()
      ;(result.response as Record<string, unknown>).callback_url = url
      expectPoison(classify(KEY, buf(result), KEY), 'CALLBACK_URL_INVALID')
      const req = { ...request(), callback_url: url }
      expectPoison(classify('new_request', buf(req), 'new_request'), 'CALLBACK_URL_INVALID')
    })
  }

  it('rejects processing_id given as the string "1"', () => {
    const input = successResult()
    ;(input.response as Record<string, unknown>).processing_id = '1'
    const error = expectPoison(classify(KEY, buf(input), KEY), 'MESSAGE_SCHEMA')
    assert.match(error.message, /processing_id/)
  })

  it('rejects a non-integer or negative processing_id', () => {
    for (const processingId of [1.5, -1]) {
      const input = successResult()
      ;(input.response as Record<string, unknown>).processing_id = processingId
      assert.equal(classify(KEY, buf(input), KEY).kind, 'poison', String(processingId))
    }
  })

  it(`rejects a message larger than MAX_MESSAGE_BYTES (${MAX_MESSAGE_BYTES})`, () => {
    const input = { ...successResult(), padding: 'x'.repeat(MAX_MESSAGE_BYTES) }
    const value = buf(input)
    assert.ok(value.length > MAX_MESSAGE_BYTES)
    const classified = classify(KEY, value, KEY)
    assert.equal(classified.kind, 'poison')
  })

  it('accepts a message just under MAX_MESSAGE_BYTES', () => {
    const base = buf({ ...successResult(), padding: '' }).length
    const value = buf({ ...successResult(), padding: 'x'.repeat(MAX_MESSAGE_BYTES - base) })
    assert.equal(value.length, MAX_MESSAGE_BYTES)
    assert.equal(classify(KEY, value, KEY).kind, 'result')
  })
})
