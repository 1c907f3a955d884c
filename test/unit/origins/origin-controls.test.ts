import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Publisher } from '../../../src/kafka/publisher.ts'
import { createLogger } from '../../../src/log.ts'
import { retryTiers } from '../../../src/names.ts'
import { OriginControls } from '../../../src/origins/origin-controls.ts'
import type { OriginStore } from '../../../src/store/origin-store.ts'
import { testLookup } from '../../helpers/destinations.ts'

/** rateLimitFor reads only the settings: the store and the publisher are never asked. */
function controls(destinations = testLookup([])): OriginControls {
  const [tier] = retryTiers('unit', [1000])
  assert.ok(tier)
  return new OriginControls({
    store: {} as OriginStore,
    publisher: {} as Publisher,
    rateLimits: { byOrigin: new Map([['https://a.example', 5]]), otherwise: 100 },
    destinations,
    autoPauseAfterMs: undefined,
    resumeTier: tier,
    logger: createLogger({ level: 'silent', dir: undefined, stdout: false }).logger,
    instance: 'unit',
  })
}

describe('OriginControls.rateLimitFor', () => {
  it("a destination's rate_limit wins over CALLBACK_RATE_LIMITS for its origins; others keep the env's", () => {
    const lookup = testLookup([{ origin: 'https://a.example', rate_limit: '50/s' }, { origin: 'https://*.b.example', rate_limit: '2/s' }, { origin: 'https://c.example', timeout_ms: 5000 }])
    const limits = controls(lookup)
    assert.equal(limits.rateLimitFor('https://a.example'), 50)
    assert.equal(limits.rateLimitFor('https://x.b.example'), 2)
    assert.equal(limits.rateLimitFor('https://c.example'), 100, 'a destination without rate_limit: the env default')
    assert.equal(limits.rateLimitFor('https://d.example'), 100)
  })

  it('follows a reload', () => {
    const lookup = testLookup([{ origin: 'https://a.example', rate_limit: '50/s' }])
    const limits = controls(lookup)
    lookup.replace([])
    assert.equal(limits.rateLimitFor('https://a.example'), 5)
  })
})
