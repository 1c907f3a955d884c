import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ANSWERS, answerToStatus, canRetryAnswer, type AnswerKind, type AnswerRule } from '../../../src/delivery/answers.ts'
import { ErrorCodes } from '../../../src/errors.ts'

const { DELIVERY_HTTP_STATUS: STATUS, DELIVERY_GONE: GONE, DELIVERY_TIMEOUT: TIMEOUT, DELIVERY_NETWORK: NETWORK } = ErrorCodes

// The table written out once more, row by row: changing a rule means changing it here too, on purpose.
//   kind               verdict      health  limit  Retry-After      slow   code
const EXPECTED: Array<[AnswerKind, AnswerRule['verdict'], boolean, boolean, AnswerRule['retryAfter'], boolean, AnswerRule['code']]> = [
  ['success', 'delivered', false, false, 'ignored', false, undefined],
  ['gone', 'final', false, false, 'ignored', false, GONE],
  ['requestTimeout', 'retried', false, false, 'delays-retry', false, STATUS],
  ['tooManyRequests', 'retried', true, true, 'holds-origin', true, STATUS],
  ['unavailable', 'retried', true, true, 'holds-origin', false, STATUS],
  ['serverError', 'retried', true, true, 'delays-retry', false, STATUS],
  ['redirect', 'retried', false, false, 'delays-retry', false, STATUS],
  ['tokenRejected', 'retried', false, false, 'ignored', false, STATUS],
  ['clientError', 'retried', false, false, 'delays-retry', false, STATUS],
  ['timeout', 'retried', true, true, 'ignored', true, TIMEOUT],
  ['stalledTimeout', 'retried', false, false, 'ignored', false, TIMEOUT],
  ['refused', 'retried', true, true, 'ignored', false, NETWORK],
  ['reset', 'retried', true, true, 'ignored', false, NETWORK],
  ['tlsFailure', 'retried', true, true, 'ignored', false, NETWORK],
  ['networkFailure', 'retried', true, true, 'ignored', false, NETWORK],
  ['authTokenFailure', 'retried', false, false, 'ignored', false, ErrorCodes.DELIVERY_AUTH_TOKEN],
  ['blockedAddress', 'final', false, false, 'ignored', false, ErrorCodes.CALLBACK_ADDRESS_BLOCKED],
  ['proxyUnavailable', 'retried', false, false, 'ignored', false, ErrorCodes.CALLBACK_PROXY_UNAVAILABLE],
  ['invalidUrl', 'final', false, false, 'ignored', false, ErrorCodes.CALLBACK_URL_INVALID],
]

describe('the answer table', () => {
  it('has exactly the rows listed', () => {
    assert.deepEqual(Object.keys(ANSWERS).sort(), EXPECTED.map(([kind]) => kind).sort())
  })

  for (const [kind, verdict, countsAgainstHealth, lowersLimit, retryAfter, slowsRetry, code] of EXPECTED) {
    it(`${kind}: ${verdict}${countsAgainstHealth ? ', against the origin' : ''}${retryAfter === 'holds-origin' ? ', holds the origin' : ''}`, () => {
      assert.deepEqual(ANSWERS[kind], { verdict, countsAgainstHealth, lowersLimit, retryAfter, slowsRetry, code, judgesOrigin: kind !== 'stalledTimeout' })
      assert.equal(canRetryAnswer(kind), verdict === 'retried')
    })
  }

  it('only a delivered answer has no error code, and only it is delivered', () => {
    for (const [kind, rule] of Object.entries(ANSWERS)) assert.equal(rule.code === undefined, rule.verdict === 'delivered', kind)
  })
})

describe('answerToStatus', () => {
  const cases: Array<[number, AnswerKind]> = [
    [200, 'success'],
    [202, 'success'],
    [299, 'success'],
    [301, 'redirect'],
    [302, 'redirect'],
    [308, 'redirect'],
    [400, 'clientError'],
    [401, 'clientError'],
    [404, 'clientError'],
    [408, 'requestTimeout'],
    [410, 'gone'],
    [422, 'clientError'],
    [429, 'tooManyRequests'],
    [500, 'serverError'],
    [502, 'serverError'],
    [503, 'unavailable'],
    [504, 'serverError'],
    [599, 'serverError'],
    [600, 'clientError'],
  ]
  for (const [status, kind] of cases) it(`${status} → ${kind}`, () => assert.equal(answerToStatus(status), kind))
})

describe('answerToStatus of a request that carried an OAuth2 access token', () => {
  it('401 → tokenRejected: the token is dropped and the notification retried', () => assert.equal(answerToStatus(401, true), 'tokenRejected'))
  for (const status of [200, 400, 403, 410, 429, 503]) it(`${status} → as without a token`, () => assert.equal(answerToStatus(status, true), answerToStatus(status)))
})
