import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  isAbsoluteHttpUrl,
  looksLikeRequest,
  looksLikeResult,
  processingRequestSchema,
  processingResultSchema,
} from '../../../src/messages/schemas.ts'

const response = {
  callback_url: 'https://client.example/hook',
  processing_id: 1,
  user_id: 2,
  resume_id: 3,
  requirements_id: 4,
  score: 50,
  matches: ['Python'],
  recommendation: 'r',
  verdict: 'v',
}

describe('isAbsoluteHttpUrl', () => {
  it('accepts http and https URLs', () => {
    assert.equal(isAbsoluteHttpUrl('https://client.example/hook'), true)
    assert.equal(isAbsoluteHttpUrl('http://127.0.0.1:8080/x?y=1'), true)
  })

  it('rejects other schemes, relative and malformed URLs', () => {
    for (const text of ['ftp://x', '/relative', 'relative', '', 'http//x', 'javascript:alert(1)', 'file:///etc/passwd']) {
      assert.equal(isAbsoluteHttpUrl(text), false, text)
    }
  })
})

describe('processingResultSchema', () => {
  it('keeps unknown fields at both levels', () => {
    const parsed = processingResultSchema.parse({
      success: true,
      response: { ...response, extra: 1 },
      message_error: null,
      wait_seconds: null,
      top: 'kept',
    })
    assert.equal((parsed as Record<string, unknown>).top, 'kept')
    assert.equal((parsed.response as Record<string, unknown>).extra, 1)
  })

  it('requires the AI fields on a success result', () => {
    const { score: _score, ...withoutScore } = response
    assert.equal(processingResultSchema.safeParse({ success: true, response: withoutScore }).success, false)
  })

  it('allows missing AI fields on a failure result', () => {
    const parsed = processingResultSchema.safeParse({ success: false, response: { processing_id: 3 }, message_error: 'x' })
    assert.equal(parsed.success, true)
  })

  it('rejects a negative wait_seconds', () => {
    const parsed = processingResultSchema.safeParse({ success: false, response: { processing_id: 3 }, wait_seconds: -1 })
    assert.equal(parsed.success, false)
  })

  it('rejects an over-long callback_url', () => {
    const long = `https://client.example/${'a'.repeat(2100)}`
    assert.equal(processingResultSchema.safeParse({ success: true, response: { ...response, callback_url: long } }).success, false)
  })
})

describe('processingRequestSchema', () => {
  it('requires callback_url', () => {
    const { callback_url: _url, ...rest } = response
    assert.equal(processingRequestSchema.safeParse(rest).success, false)
    assert.equal(processingRequestSchema.safeParse(response).success, true)
  })
})

describe('shape heuristics', () => {
  it('looksLikeResult on success or response', () => {
    assert.equal(looksLikeResult({ success: true }), true)
    assert.equal(looksLikeResult({ response: {} }), true)
    assert.equal(looksLikeResult({ processing_id: 1 }), false)
  })

  it('looksLikeRequest needs processing_id and one of callback_url, resume, requirements', () => {
    assert.equal(looksLikeRequest({ processing_id: 1, callback_url: 'x' }), true)
    assert.equal(looksLikeRequest({ processing_id: 1, resume: 'x' }), true)
    assert.equal(looksLikeRequest({ processing_id: 1, requirements: 'x' }), true)
    assert.equal(looksLikeRequest({ processing_id: 1 }), false)
    assert.equal(looksLikeRequest({ callback_url: 'x' }), false)
  })
})
