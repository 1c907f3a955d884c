// Pure: the soak's invariants, from what the origins received, the outcome and dead-letter
// topics, Redis, the nemesis' faults, the lag and RSS samples and the replicas' logs. Each
// check names what it proves and gives its figures; a failed one fails the run.
import type { ReplicaLife } from './fleet.ts'
import type { Letter, RedisState, TopicAudit } from './ledger.ts'
import type { Sent } from './load.ts'
import { lastRetry, lastRetryTrace, type RetryTrace } from './retry-tiers.ts'
import type { Fault } from './nemesis.ts'
import { ALLOWED_LETTER_CODES, NEVER_DELIVERS, type Behaviour, type Request } from './origins.ts'

export interface Evidence {
  sent: ReadonlyMap<number, Sent>
  behaviours: readonly Behaviour[]
  requests: ReadonlyMap<number, Request[]>
  letters: ReadonlyMap<number, Letter[]>
  /** Ids found in the sending topic, followed through the faults and read again after them. */
  inKafka: ReadonlySet<number>
  /** The id at each `partition:offset` of the sending topic, as read again after the faults. */
  sendingAt: ReadonlyMap<string, number>
  /** Each topic followed through the faults against the same topic read again after them. */
  kafkaAudit: readonly TopicAudit[]
  outcomes: ReadonlyMap<number, string[]>
  redis: ReadonlyMap<number, RedisState>
  faults: readonly Fault[]
  lives: readonly ReplicaLife[]
  /** Per replica life: problems found in its log. */
  logProblems: readonly string[]
  crashes: readonly string[]
  /** When replicas exited by themselves (a crash: it fails the run, and explains the repeats that follow). */
  crashTimes: readonly number[]
  /** How long a claim lasts (callback timeout + 15 s): what a crash or freeze can leave in flight. */
  claimMs: number
  /** The callback timeout (CALLBACK_TIMEOUT_MS). */
  attemptMs: number
  lagLimit: number
  recoveryLimitMs: number
  rssWarmupMs: number
  /** When the replicas were stopped: a retry due well before that and never made was dropped, not pending. */
  stoppedAt: number
  /** Each id's records in the retry tiers, read at the end (where a lost one's last retry went). */
  retries: ReadonlyMap<number, RetryTrace[]>
}

export interface Check {
  name: string
  ok: boolean
  detail: string
}

export interface Attribution {
  /** Duplicated ids (2xx twice or more) explained by each fault. */
  duplicates: Map<Fault, number>
  /** Lost ids by the fault under way when they were produced (undefined: none). */
  lost: Map<Fault | undefined, number>
}

const isOk = (r: Request) => r.status >= 200 && r.status < 300
/**
 * The origins stamp a request when its body was read: up to this long after it left the
 * replica (a request written just before a kill -9 is read after the kill was stamped).
 */
const ARRIVAL_SLACK_MS = 1000
/** Origins that answer 2xx at once or soon: an id of theirs still retrying at the end is as good as lost. */
const ALWAYS_DELIVERS: ReadonlySet<Behaviour> = new Set(['fast', 'slow'])
/** What a notification ends in when its attempts got no answer in time. */
const UNANSWERED_CODES: ReadonlySet<string> = new Set(['DELIVERY_TIMEOUT', 'DELIVERY_NETWORK', 'CALLBACK_UNAVAILABLE'])

export function checkAll(e: Evidence): { checks: Check[]; attribution: Attribution } {
  const attribution: Attribution = { duplicates: new Map(), lost: new Map() }
  const checks = [
    settledOnce(e, attribution),
    duplicatesExplained(e, attribution),
    noSendAfterFreeze(e),
    outcomesAgree(e),
    redisAgrees(e),
    lagRecovered(e),
    kafkaKept(e),
    rssFlat(e),
    logsClean(e),
  ]
  return { checks, attribution }
}

function faultAt(faults: readonly Fault[], at: number, afterMs: number): Fault | undefined {
  return [...faults].reverse().find((f) => f.startedAt <= at && at <= (f.endedAt ?? Infinity) + afterMs)
}

function settledOnce(e: Evidence, attribution: Attribution): Check {
  let delivered = 0
  let lettered = 0
  let unacked = 0
  let pending = 0
  const notInKafka: number[] = []
  let bothAfterInterruption = 0
  let bothUnheard = 0
  const both: number[] = []
  const lost: number[] = []
  const lostBy = new Map<string, number>()
  const wrongReason: string[] = []
  for (const [id, sent] of e.sent) {
    const oks = (e.requests.get(id) ?? []).filter(isOk).length
    const letters = e.letters.get(id) ?? []
    const behaviour = e.behaviours[sent.origin] ?? 'fast'
    if (oks > 0) delivered++
    if (letters.length > 0) lettered++
    // its 2xx answered to a sender that died or froze before it could record it: the copy
    // that took over after the claim expired decided alone (the dead-letter twin of a repeat)
    if (oks > 0 && letters.length > 0) {
      if (orphanedTwice(e, id)) bothAfterInterruption++
      else if (unheard(e, id)) bothUnheard++
      else both.push(id)
    }
    if (oks === 0 && letters.length === 0) {
      if (!sent.acked) unacked++
      else if (!e.inKafka.has(id)) notInKafka.push(id)
      else if (stillDue(e, id) && !ALWAYS_DELIVERS.has(behaviour)) pending++
      else {
        lost.push(id)
        lostBy.set(behaviour, (lostBy.get(behaviour) ?? 0) + 1)
        const fault = faultAt(e.faults, sent.producedAt, 60_000)
        attribution.lost.set(fault, (attribution.lost.get(fault) ?? 0) + 1)
      }
    }
    const noAnswer = unheard(e, id)
    for (const letter of letters) {
      if (!ALLOWED_LETTER_CODES[behaviour].includes(letter.code) && !(noAnswer && UNANSWERED_CODES.has(letter.code))) wrongReason.push(`${id} (${behaviour}) ${letter.code}: ${letter.reason.slice(0, 60)}`)
    }
    if (oks > 0 && NEVER_DELIVERS.has(behaviour)) wrongReason.push(`${id} (${behaviour}) delivered`)
  }
  const ok = both.length === 0 && lost.length === 0 && notInKafka.length === 0 && wrongReason.length === 0
  const detail = `${e.sent.size} sent: ${delivered} delivered, ${lettered} dead-lettered, ${lost.length} lost, ${both.length} both, ${wrongReason.length} with a reason their origin does not imply${bothAfterInterruption ? `; ${bothAfterInterruption} both after their 2xx went to a replica killed or frozen before it recorded it (allowed, as a repeat is)` : ''}${bothUnheard ? `; ${bothUnheard} both after attempts that got no answer in time though the origin answered 2xx (allowed: the service's deadline decides)` : ''}${pending ? `; ${pending} still in their retry schedule at the end (origins that fail, time out or refuse; not counted as lost)` : ''}${unacked ? `; ${unacked} never acknowledged by Kafka and never seen (not counted)` : ''}${notInKafka.length ? `; ${notInKafka.length} acknowledged to the load's producer but not in the sending topic (lost before the service), e.g. ${notInKafka.slice(0, 3).map((id) => whereAcked(e, id)).join(', ')}` : ''}${lost.length ? `; lost by origin ${[...lostBy].map(([b, n]) => `${b} ${n}`).join(', ')}, e.g. ${lost.slice(0, 3).map((id) => `${id} (${lastRetry(e.retries, id)})`).join(', ')}` : ''}${both.length ? `; both e.g. ${both.slice(0, 3).join(', ')}` : ''}${wrongReason.length ? `; e.g. ${wrongReason.slice(0, 3).join('; ')}` : ''}`
  return { name: 'every id delivered or dead-lettered with the reason its origin implies, never both', ok, detail }
}

/**
 * Still in its retry schedule when the replicas stopped: `retrying`, its next attempt due no
 * earlier than PENDING_SLACK_MS before they stopped. One whose attempt was due long before
 * and never made was dropped by the service (it counts as lost).
 */
function stillDue(e: Evidence, id: number): boolean {
  const state = e.redis.get(id)
  if (state?.status !== 'retrying') return false
  if (state.nextAttemptAt === undefined || state.nextAttemptAt >= e.stoppedAt - PENDING_SLACK_MS) return true
  // A refusal decided before a claim (an open circuit) leaves the status's next attempt as it
  // was: its retry record, uncommitted and due near or after the end, is where it waits.
  const last = lastRetryTrace(e.retries, id)
  return last !== undefined && !last.committed && last.dueAt >= e.stoppedAt - PENDING_SLACK_MS
}

/** How late a due retry may still be when the replicas stop (a tier read after a rebalance, a freeze). */
const PENDING_SLACK_MS = 120_000

/** Where the broker said it wrote an id, and what that offset holds now. */
export function whereAcked(e: Evidence, id: number): string {
  const sent = e.sent.get(id)
  if (sent?.offset === undefined) return `${id} (no offset acknowledged)`
  const now = e.sendingAt.get(`${sent.partition}:${sent.offset}`)
  return `${id} at ${sent.partition}:${sent.offset} (${now === undefined ? 'no record there now' : `holds ${now} now`})`
}

/**
 * Kafka kept what it acknowledged: no record that the readers followed through the faults is
 * missing or different when the topic is read again from the start after them. Offsets a
 * follower passed over are counted in from the final read, and shown.
 */
function kafkaKept(e: Evidence): Check {
  const vanished = e.kafkaAudit.flatMap((a) => a.vanished.map((v) => `${a.topic} ${v.partition}:${v.offset}`))
  const skipped = e.kafkaAudit.filter((a) => a.skippedByFollower.length > 0).map((a) => `${a.topic}: ${a.skippedByFollower.reduce((n, r) => n + Number(r.to - r.from + 1n), 0)} offsets in ${a.skippedByFollower.length} runs`)
  const read = e.kafkaAudit.map((a) => `${a.topic.split('.').at(-1)} ${a.final}${a.complete ? '' : ' (did not reach the end in time: not checked)'}`).join(', ')
  return {
    name: 'Kafka kept every record the readers saw (each topic read again after the faults)',
    ok: vanished.length === 0 && e.kafkaAudit.every((a) => a.complete),
    detail: `read again: ${read}; ${vanished.length} gone or changed${vanished.length ? `, e.g. ${vanished.slice(0, 3).join(', ')}` : ''}${skipped.length ? `; followers passed over (counted in from the final read): ${skipped.join('; ')}` : ''}`,
  }
}

/** Delivered and dead-lettered, its 2xx answered to a sender killed or frozen before it could record it. */
function orphanedTwice(e: Evidence, id: number): boolean {
  const requests = e.requests.get(id) ?? []
  if (!requests.some(isOk) || (e.letters.get(id) ?? []).length === 0) return false
  return interruptions(e).some((m) => requests.some((r) => isOk(r) && r.arrivedAt <= m.at + ARRIVAL_SLACK_MS && r.arrivedAt >= m.at - e.claimMs))
}

/**
 * The origin answered 2xx more often than the service heard it, and the service recorded an
 * attempt that ended without an answer (a timeout, a broken connection): the 2xx did not
 * reach it before its deadline, so it retried or gave up, as the contract says. A stalled
 * origin or machine does that; the count is printed so that a stalled service shows too.
 */
export function unheard(e: Evidence, id: number): boolean {
  const oks = (e.requests.get(id) ?? []).filter(isOk).length
  const history = e.redis.get(id)?.attempts ?? []
  const heard = history.filter((a) => a.status_code !== null && a.status_code >= 200 && a.status_code < 300).length
  return oks > heard && history.some((a) => a.status_code === null)
}

/** The moments a crash or freeze could have left ids in flight. */
function interruptions(e: Pick<Evidence, 'faults' | 'crashTimes'>): Array<{ at: number; fault: Fault | undefined }> {
  const byFaults = e.faults.flatMap((fault) => [...fault.crashAt.map((at) => ({ at, fault })), ...fault.freezes.map((w) => ({ at: w.stoppedAt, fault }))])
  return [...byFaults, ...e.crashTimes.map((at) => ({ at, fault: undefined }))]
}

function duplicatesExplained(e: Evidence, attribution: Attribution): Check {
  const moments = interruptions(e)
  // the bound: ids that had a request within a claim's lifetime before an interruption
  const inFlight = new Set<number>()
  const unexplained: string[] = []
  let duplicated = 0
  let mixedIds = 0
  let lateAnswers = 0
  let unheardAnswers = 0
  for (const [id, requests] of e.requests) {
    for (const m of moments) if (requests.some((r) => r.arrivedAt <= m.at && r.at >= m.at - e.claimMs)) inFlight.add(id)
    const oks = requests.filter(isOk)
    if (oks.length < 2) continue
    duplicated++
    if (new Set(oks.map((r) => r.webhookId)).size > 1) mixedIds++
    const first = oks[0]?.at ?? 0
    const last = oks.at(-1)?.at ?? 0
    const cause = moments.find((m) => m.at >= first - e.claimMs && m.at <= last && requests.some((r) => r.arrivedAt <= m.at + ARRIVAL_SLACK_MS))
    if (cause) {
      if (cause.fault) attribution.duplicates.set(cause.fault, (attribution.duplicates.get(cause.fault) ?? 0) + 1)
    }
    else if (oks.slice(0, -1).some((r) => r.at - r.arrivedAt >= e.attemptMs / 2)) lateAnswers++
    else if (unheard(e, id)) unheardAnswers++
    else unexplained.push(`${id}: 2xx ${oks.length}× over ${last - first} ms`)
  }
  // retries after an answer that came too late are not the crashes' doing: the bound is on the rest
  const ok = unexplained.length === 0 && mixedIds === 0 && duplicated - lateAnswers - unheardAnswers <= inFlight.size
  return {
    name: 'a repeat only with the same webhook-id, only for an id in flight at a crash or freeze',
    ok,
    detail: `${duplicated} ids delivered twice or more (bound: ${inFlight.size} ids in flight at ${moments.length} crashes/freezes); ${lateAnswers} after a 2xx the origin gave more than half the callback timeout late (the attempt timed out first: a retry, as the contract says); ${unheardAnswers} after a 2xx the service recorded as no answer in time (a timeout or a broken connection: a retry); ${mixedIds} with differing webhook-ids; ${unexplained.length} unexplained${unexplained.length ? ` e.g. ${unexplained.slice(0, 3).join('; ')}` : ''}`,
  }
}

function noSendAfterFreeze(e: Evidence): Check {
  let windows = 0
  const late: string[] = []
  for (const fault of e.faults) {
    for (const w of fault.freezes) {
      if (w.contAt - w.stoppedAt <= e.claimMs) continue
      windows++
      for (const [id, requests] of e.requests) {
        const firstOk = requests.find(isOk)?.at
        if (firstOk === undefined || firstOk >= w.contAt) continue
        const after = requests.filter((r) => r.at > w.contAt && r.at <= w.contAt + 60_000)
        // a crash after the first 2xx explains a resend; only what the woken replica sent counts
        const crashed = [...e.faults.flatMap((f) => f.crashAt), ...e.crashTimes].some((at) => at >= firstOk - e.claimMs && at <= (after[0]?.at ?? 0))
        if (after.length > 0 && !crashed && !unheard(e, id)) late.push(`${id}: delivered ${w.contAt - firstOk} ms before SIGCONT, sent again ${(after[0]?.at ?? 0) - w.contAt} ms after${whenSigned(after[0], w.stoppedAt)}`)
      }
    }
  }
  return {
    name: 'no send started after a freeze for a claim that expired during it',
    ok: late.length === 0,
    detail: `${windows} freezes longer than a claim (${e.claimMs} ms); ${late.length} ids sent again after the wake-up${late.length ? `: ${late.slice(0, 3).join('; ')}` : ''}`,
  }
}

/**
 * When the request sent after a wake-up was built (its webhook-timestamp, whole seconds),
 * from the SIGSTOP: about 0 or less, it left on the claim the frozen replica held, past the
 * checks before a send; about the freeze's length, a claim was granted to it after the wake-up
 * although the id had been delivered.
 */
function whenSigned(request: Request | undefined, stoppedAt: number): string {
  if (!request?.signedAt) return ''
  return ` (signed ${((request.signedAt - stoppedAt) / 1000).toFixed(0)} s from the SIGSTOP)`
}

function outcomesAgree(e: Evidence): Check {
  const wrong: string[] = []
  let checked = 0
  for (const [id] of e.sent) {
    const oks = (e.requests.get(id) ?? []).filter(isOk).length
    const lettered = (e.letters.get(id) ?? []).length > 0
    if (oks === 0 && !lettered) continue
    checked++
    const distinct = [...new Set(e.outcomes.get(id) ?? [])]
    const expected = oks > 0 ? 'delivered' : 'failed'
    if (distinct.length !== 1 || (distinct[0] !== expected && !orphanedTwice(e, id) && !unheard(e, id))) wrong.push(`${id}: ${distinct.join('+') || 'none'}, expected ${expected}`)
  }
  return { name: 'one distinct outcome per id, with the right status', ok: wrong.length === 0, detail: `${checked} settled ids; ${wrong.length} wrong${wrong.length ? `: ${wrong.slice(0, 3).join('; ')}` : ''}` }
}

function redisAgrees(e: Evidence): Check {
  const wrong: string[] = []
  for (const [id, state] of e.redis) {
    const oks = (e.requests.get(id) ?? []).filter(isOk).length
    const lettered = (e.letters.get(id) ?? []).length > 0
    if (oks === 0 && !lettered) continue
    const expected = oks > 0 ? 'delivered' : 'failed'
    if (!state.done || (state.status !== expected && !orphanedTwice(e, id) && !unheard(e, id))) wrong.push(`${id}: done marker ${state.done ? 'set' : 'MISSING'}, status ${state.status ?? 'none'}, expected ${expected}`)
  }
  return { name: 'Redis: a done marker and the right status for every settled id', ok: wrong.length === 0, detail: `${e.redis.size} ids read; ${wrong.length} wrong${wrong.length ? `: ${wrong.slice(0, 3).join('; ')}` : ''}` }
}

/**
 * Each fault's lag back under the limit within the time after its end. A fault that began
 * while the lag from the one before was still up, before that one's time ran out, makes one
 * episode with it: the lag is judged after the later fault ("a fault during the recovery from
 * another"). A slow recovery is a failure only where no fault followed within its time.
 */
function lagRecovered(e: Evidence): Check {
  const faults = [...e.faults].sort((a, b) => a.startedAt - b.startedAt)
  const afterEnd = (f: Fault) => (f.recoveredAt ?? Infinity) - (f.endedAt ?? f.startedAt)
  const slow: Fault[] = []
  let joined = 0
  faults.forEach((fault, i) => {
    if (afterEnd(fault) <= e.recoveryLimitMs) return
    const next = faults[i + 1]
    const deadline = Math.min(fault.recoveredAt ?? Infinity, (fault.endedAt ?? fault.startedAt) + e.recoveryLimitMs)
    if (next !== undefined && next.startedAt < deadline) joined++
    else slow.push(fault)
  })
  const worst = Math.max(0, ...faults.map(afterEnd))
  return {
    name: `consumer lag back under ${e.lagLimit} within ${e.recoveryLimitMs / 1000} s after each fault`,
    ok: slow.length === 0,
    detail: `${faults.length} faults; slowest ${Number.isFinite(worst) ? `${(worst / 1000).toFixed(1)} s` : 'never'} after its end` +
      (joined ? `; ${joined} judged with a fault that began during its recovery` : '') +
      (slow.length ? `; too slow: ${slow.map((f) => f.kind).join(', ')}` : ''),
  }
}

/** Longest stretch of a life's samples each end of the RSS comparison takes its floor from. */
const RSS_WINDOW_MS = 120_000

/**
 * Each replica's RSS floor (the least sampled) over its first stretch after warm-up against
 * its last: a leak lifts the floor; a backlog after a fault lifts the peaks, and V8 keeps a
 * peak's heap for a while, which is what a median of a few samples measured before. Warm-up
 * is the first half of its life: measured (5 broker kills, 5 minutes), a replica that began
 * at 226 MiB rose to 308 while its peers settled from 360–375 to 344–359.
 */
function rssFlat(e: Evidence): Check {
  const grew: string[] = []
  const figures: string[] = []
  for (const life of e.lives) {
    // warm-up: the first half of its life, at least rssWarmupMs (a replica's heap keeps settling
    // for minutes under bursts and faults, toward where its peers are; a leak keeps growing)
    const born = life.readyAt ?? life.startedAt
    const warm = Math.max(born + e.rssWarmupMs, (born + (life.rss.at(-1)?.[0] ?? born)) / 2)
    const samples = life.rss.filter(([at]) => at >= warm)
    const first = samples[0]?.[0] ?? 0
    const last = samples.at(-1)?.[0] ?? 0
    if (samples.length < 12 || last - first < 60_000) continue
    const window = Math.min(RSS_WINDOW_MS, (last - first) / 3)
    const floor = (series: Array<[number, number]>, from: number, to: number) => Math.min(...series.filter(([at]) => at >= from && at <= to).map(([, kib]) => kib))
    const base = floor(samples, first, first + window)
    const end = floor(samples, last - window, last)
    const growth = (end - base) / base
    const heapBase = floor(life.heap, first, first + window)
    const heapEnd = floor(life.heap, last - window, last)
    const heap = Number.isFinite(heapBase) && Number.isFinite(heapEnd) ? ` (heap used ${(heapBase / 1024).toFixed(0)}→${(heapEnd / 1024).toFixed(0)})` : ''
    figures.push(`${life.name} ${(base / 1024).toFixed(0)}→${(end / 1024).toFixed(0)} MiB${heap}`)
    if (growth >= 0.1) grew.push(`${life.name} +${(growth * 100).toFixed(0)} %`)
  }
  return {
    name: 'each replica’s RSS grows < 10 % over the second half of its life (floor of its first 2 minutes against its last)',
    ok: grew.length === 0,
    detail: figures.length === 0 ? `no replica lived ${e.rssWarmupMs / 1000} s + 60 s past its start (not measured)` : `${figures.join(', ')}${grew.length ? `; grew: ${grew.join(', ')}` : ''}`,
  }
}

function logsClean(e: Evidence): Check {
  const problems = [...e.crashes, ...e.logProblems]
  return { name: 'no unhandled error, fatal or crash in any replica', ok: problems.length === 0, detail: problems.length === 0 ? `${e.lives.length} replica processes` : problems.slice(0, 3).join('; ') }
}
