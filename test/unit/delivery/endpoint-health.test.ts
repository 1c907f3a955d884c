import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { endpointSignal } from '../../../src/delivery/endpoint-health.ts'
import { DeliveryError, ErrorCodes, type ErrorCode } from '../../../src/errors.ts'

const error = (code: ErrorCode, statusCode?: number) => new DeliveryError(code, 'x', true, statusCode === undefined ? {} : { statusCode })

describe('endpointSignal', () => {
  it('429 and timeouts ask us to slow down', () => {
    assert.equal(endpointSignal(error(ErrorCodes.DELIVERY_HTTP_STATUS, 429)), 'overloaded')
    assert.equal(endpointSignal(error(ErrorCodes.DELIVERY_TIMEOUT)), 'overloaded')
  })

  it('5xx and unreachable endpoints are unwell', () => {
    for (const status of [500, 502, 503, 504]) assert.equal(endpointSignal(error(ErrorCodes.DELIVERY_HTTP_STATUS, status)), 'unwell')
    assert.equal(endpointSignal(error(ErrorCodes.DELIVERY_NETWORK)), 'unwell')
  })

  it('an endpoint that answered 4xx, 410 or a redirect, or that we refused to call, is fine', () => {
    for (const status of [400, 404, 422, 302]) assert.equal(endpointSignal(error(ErrorCodes.DELIVERY_HTTP_STATUS, status)), 'fine')
    assert.equal(endpointSignal(error(ErrorCodes.DELIVERY_GONE, 410)), 'fine')
    assert.equal(endpointSignal(error(ErrorCodes.CALLBACK_ADDRESS_BLOCKED)), 'fine')
    assert.equal(endpointSignal(error(ErrorCodes.CALLBACK_URL_INVALID)), 'fine')
    assert.equal(endpointSignal(error(ErrorCodes.CALLBACK_PROXY_UNAVAILABLE)), 'fine', 'our egress proxy failing says nothing of the client')
  })
})
