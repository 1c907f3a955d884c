// The timeline of every id an invariant would fail on (lost, delivered and dead-lettered,
// delivered twice, wrong outcome, a dead letter's reason its origin does not imply), for diagnosis: written next to the replicas' logs.
import { unheard, whereAcked, type Evidence } from './invariants.ts'
import { ALLOWED_LETTER_CODES } from './origins.ts'
import { lastRetry } from './retry-tiers.ts'

export function anomalies(e: Evidence, startedAt: number): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  const rel = (at: number) => at - startedAt
  for (const [id, sent] of e.sent) {
    const requests = e.requests.get(id) ?? []
    const oks = requests.filter((r) => r.status >= 200 && r.status < 300).length
    const letters = e.letters.get(id) ?? []
    const outcomes = [...new Set(e.outcomes.get(id) ?? [])]
    const why = [
      oks === 0 && letters.length === 0 && sent.acked ? 'lost' : '',
      oks > 0 && letters.length > 0 ? 'both' : '',
      oks > 1 ? 'repeated' : '',
      (oks > 0 || letters.length > 0) && outcomes.length !== 1 ? 'outcomes' : '',
      letters.some((letter) => !ALLOWED_LETTER_CODES[e.behaviours[sent.origin] ?? 'fast'].includes(letter.code)) ? 'reason' : '',
    ].filter(Boolean)
    if (why.length === 0) continue
    out.push({
      id,
      why,
      behaviour: e.behaviours[sent.origin],
      producedAtMs: rel(sent.producedAt),
      acked: sent.acked ? whereAcked(e, id) : false,
      requests: requests.map((r) => ({ arrivedMs: rel(r.arrivedAt), answeredMs: rel(r.at), status: r.status, signedMs: r.signedAt ? rel(r.signedAt) : null })),
      letters,
      outcomes: e.outcomes.get(id) ?? [],
      redis: e.redis.get(id),
      unheard: unheard(e, id),
      retry: lastRetry(e.retries, id),
    })
  }
  return out
}
