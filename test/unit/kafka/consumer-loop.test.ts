import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino, type Logger } from 'pino'
import { loadConfig, type Tuning } from '../../../src/config.ts'
import { Interrupted } from '../../../src/errors.ts'
import { plaintextConnection } from '../../../src/kafka/connection.ts'
import { ConsumerLoop, commitOffset, type InputRecord } from '../../../src/kafka/consumer-loop.ts'
import type { OutsideWaits } from '../../../src/kafka/in-flight-limit.ts'
import type { GroupMembershipOptions, Membership } from '../../../src/kafka/group-membership.ts'
import { createLogger } from '../../../src/log.ts'

type Callback = (error?: Error | null) => void

describe('commitOffset', () => {
  it('resolves when the client reports the commit done', async () => {
    let calls = 0
    const handle = ((callback: Callback) => (calls++, callback(null))) as never
    await commitOffset(handle)
    assert.equal(calls, 1)
  })

  it('rejects with the client’s error when the commit failed', async () => {
    const failure = new Error('REBALANCE_IN_PROGRESS')
    const handle = ((callback: Callback) => void setImmediate(() => callback(failure))) as never
    await assert.rejects(commitOffset(handle), failure)
  })
})

/** A member of the group that hands the loop the records the test gives it, and tells what the loop asked of it. */
class FakeMembership implements Membership {
  readonly isJoined = true
  readonly committed: number[] = []
  readonly calls: string[] = []
  readonly #options: GroupMembershipOptions
  #onCommit: (() => void) | undefined
  #onResume: (() => void) | undefined

  constructor(options: GroupMembershipOptions) {
    this.#options = options
  }

  lag(): [] {
    return []
  }

  pause(): void {
    this.calls.push('pause')
  }

  resume(): void {
    this.calls.push('resume')
    this.#onResume?.()
  }

  join(): Promise<void> {
    this.#options.onJoined()
    this.#options.onAssigned(new Set(['in:0']))
    return Promise.resolve()
  }

  leave(): Promise<void> {
    this.calls.push('leave')
    return Promise.resolve()
  }

  /** Told these partitions (partitionKey names) are this member's from now on, still in the old stream. */
  assign(owned: string[]): void {
    this.#options.onAssigned(new Set(owned))
  }

  /** A rebalance as GroupMembership makes it: the new assignment, then a new stream (from the committed offsets). */
  rebalance(owned: string[]): void {
    this.assign(owned)
    this.#options.onJoined()
  }

  /** A record at `offset` of partition in:`partition` (0 by default), whose commit the test sees. */
  deliver(offset: number, partition = 0): void {
    const commit = (callback: Callback) => {
      this.committed.push(offset)
      callback(null)
      this.#onCommit?.()
    }
    this.#options.onMessage({ topic: 'in', partition, offset: BigInt(offset), key: undefined, value: Buffer.from('v'), timestamp: 0n, headers: new Map(), commit } as never)
  }

  nextCommit(): Promise<void> {
    return new Promise((resolve) => (this.#onCommit = resolve))
  }

  nextResume(): Promise<void> {
    return new Promise((resolve) => (this.#onResume = resolve))
  }
}

/** Each record's work ends when the test says: resolve or reject by offset. */
class ControlledWork {
  readonly #ends = new Map<number, PromiseWithResolvers<void>>()
  readonly unexpected: number[] = []
  /** Offsets whose work was started, in order. */
  readonly runs: number[] = []
  failDeadLetter = false
  /** The stage the records' work says it is at (as src/pipeline does). */
  stage = 'attempt'
  /** The key of each record (its processing_id in the service): none by default. */
  keyOf: (offset: number) => string | undefined = () => undefined

  end(offset: number): PromiseWithResolvers<void> {
    let end = this.#ends.get(offset)
    if (!end) this.#ends.set(offset, (end = Promise.withResolvers<void>()))
    return end
  }

  readonly processor = {
    prepare: (record: InputRecord) => ({
      key: this.keyOf(Number(record.offset)),
      run: (signal: AbortSignal, waits: OutsideWaits) => {
        waits.stage = this.stage
        this.runs.push(Number(record.offset))
        const end = this.end(Number(record.offset))
        signal.addEventListener('abort', () => end.reject(new Interrupted()), { once: true })
        return end.promise
      },
    }),
    onUnexpected: (record: InputRecord) => {
      this.unexpected.push(Number(record.offset))
      return this.failDeadLetter ? Promise.reject(new Error('dead-letter topic down')) : Promise.resolve()
    },
  }
}

function startLoop(tuning: Partial<Tuning> = {}, logger: Logger = createLogger({ level: 'fatal', dir: undefined, stdout: false }).logger): { loop: ConsumerLoop; member: () => FakeMembership; work: ControlledWork } {
  const work = new ControlledWork()
  let member: FakeMembership | undefined
  const loop = new ConsumerLoop({
    name: 'unit',
    connection: plaintextConnection(['127.0.0.1:1']),
    clientId: 'unit',
    groupId: 'unit',
    topics: ['in'],
    tuning: loadConfig({}, { commitIntervalMs: 60_000, ...tuning }).tuning,
    processor: work.processor,
    logger,
    membership: (options) => (member = new FakeMembership(options)),
  })
  return { loop, member: () => member!, work }
}

describe('ConsumerLoop (with a fake group member)', () => {
  it('commits, every commit interval, up to the last record below which every record’s work has ended', async () => {
    const { loop, member, work } = startLoop({ commitIntervalMs: 5 })
    await loop.start()
    for (const offset of [0, 1, 2]) member().deliver(offset)
    const committed = member().nextCommit()
    work.end(1).resolve()
    work.end(0).resolve()
    await committed
    assert.deepEqual(member().committed, [1], 'offset 2, still at work, holds its own commit back')
    await loop.stop()
  })

  it('leaves a record interrupted by shutdown uncommitted, and every record after it, then leaves the group', async () => {
    const { loop, member, work } = startLoop()
    await loop.start()
    for (const offset of [0, 1]) member().deliver(offset)
    work.end(1).resolve()
    await loop.stop()
    assert.deepEqual(member().committed, [])
    assert.equal(member().calls.at(-1), 'leave')
  })

  // The soak (issue 21) saw one result handled up to 13 times at once after its retry loop's
  // stream was replaced: each copy deferred, then dead-lettered, beside the one delivered.
  it('a record fetched again by a new stream while its first fetch is still at work is not handled twice; committed once the first is done', async () => {
    const { loop, member, work } = startLoop({ commitIntervalMs: 5 })
    await loop.start()
    member().deliver(0)
    member().rebalance(['in:0'])
    member().deliver(0)
    assert.deepEqual(work.runs, [0])
    const committed = member().nextCommit()
    work.end(0).resolve()
    await committed
    assert.deepEqual(member().committed, [0])
    member().rebalance(['in:0'])
    member().deliver(0)
    assert.deepEqual(work.runs, [0, 0], 'once ended, a record a new stream fetches again is handled again (de-duplicated by its claim)')
    work.end(0).resolve()
    await loop.stop()
  })

  // The soak (issue 21, run 14): 43 retries waiting minutes to be due were committed past, and
  // lost when their replica was killed. Records the same stream hands on again (a fetch answered
  // twice) had started the partition's window over above them.
  it('records the same stream hands on again are skipped and reported; the commit stays below a record still at work', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
    const { loop, member, work } = startLoop({ commitIntervalMs: 5 }, logger)
    await loop.start()
    for (const offset of [0, 1, 2]) member().deliver(offset)
    work.end(1).resolve()
    work.end(2).resolve()
    for (const offset of [1, 2, 3]) member().deliver(offset)
    assert.deepEqual(work.runs, [0, 1, 2, 3], 'records 1 and 2 are not handled again')
    work.end(3).resolve()
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.deepEqual(member().committed, [], 'nothing past record 0 while it is at work')
    const committed = member().nextCommit()
    work.end(0).resolve()
    await committed
    assert.deepEqual(member().committed, [3])
    await loop.stop()
    const reports = lines.map((line) => JSON.parse(line) as { why?: string; skipped?: Record<string, number> }).filter((l) => l.why === 'tracked-already')
    assert.deepEqual(reports.map((r) => r.skipped), [{ 'in:0': 2 }])
  })

  // The soak (issue 21): 911 retries were never sent again. A replica handled the records of a
  // partition it had lost that were still in its stream's buffer, and committed past a record
  // the partition's new owner still had waiting; that owner was stopped before it was due.
  it('a record of a partition taken away by a rebalance, received after it from the stream’s buffer, is neither handled nor committed', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) })
    const { loop, member, work } = startLoop({ commitIntervalMs: 5 }, logger)
    await loop.start()
    member().deliver(0)
    member().assign(['in:1'])
    member().deliver(1)
    member().deliver(2)
    assert.deepEqual(work.runs, [0], 'only the record received while in:0 was this member’s')
    member().deliver(7, 1)
    const committed = member().nextCommit()
    work.end(7).resolve()
    work.end(0).resolve()
    await committed
    assert.deepEqual(member().committed, [7], 'in:1 committed; nothing of in:0 after it was taken away')
    await loop.stop()
    const reports = lines.map((line) => JSON.parse(line) as { msg: string; skipped?: Record<string, number> }).filter((l) => l.skipped)
    assert.deepEqual(reports.map((r) => r.skipped), [{ 'in:0': 2 }], 'the records skipped are reported, by partition, once')
  })

  // The soak (issue 21, run 12): a partition given back must not be committed past records of
  // it this member still has at work from before, nor past records no one handled.
  it('a partition taken away and given back is read again from its committed offset; its records still at work hold the commit back', async () => {
    const { loop, member, work } = startLoop({ commitIntervalMs: 5 })
    await loop.start()
    for (const offset of [0, 1, 2]) member().deliver(offset)
    let committed = member().nextCommit()
    work.end(0).resolve()
    await committed
    member().rebalance(['in:1'])
    member().rebalance(['in:0', 'in:1'])
    for (const offset of [1, 2, 3]) member().deliver(offset) // the new stream, from committed offset 1
    assert.deepEqual(work.runs, [0, 1, 2, 3], 'records 1 and 2, still at work, are not handled twice')
    work.end(3).resolve()
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.deepEqual(member().committed, [0], 'nothing past records 1 and 2 while they are at work')
    committed = member().nextCommit()
    work.end(1).resolve()
    work.end(2).resolve()
    await committed
    assert.deepEqual(member().committed, [0, 3])
    await loop.stop()
  })

  it('copies fetched again while the first is at work stay uncommitted when its work ends uncommittable', async () => {
    const { loop, member, work } = startLoop()
    work.failDeadLetter = true
    await loop.start()
    for (let copy = 0; copy < 3; copy++) member().deliver(0)
    assert.deepEqual(work.runs, [0])
    work.end(0).reject(new Error('a bug'))
    await loop.stop()
    assert.deepEqual(work.unexpected, [0])
    assert.deepEqual(member().committed, [], 'neither the first copy nor the two fetched again')
  })

  it('commits at shutdown what has ended', async () => {
    const { loop, member, work } = startLoop()
    await loop.start()
    for (const offset of [0, 1]) member().deliver(offset)
    work.end(0).resolve()
    work.end(1).resolve()
    await loop.stop()
    assert.deepEqual(member().committed, [1])
  })

  it('a record whose work failed unexpectedly is dead-lettered, then committed; left uncommitted if that fails too', async () => {
    for (const failDeadLetter of [false, true]) {
      const { loop, member, work } = startLoop()
      work.failDeadLetter = failDeadLetter
      await loop.start()
      member().deliver(0)
      work.end(0).reject(new Error('a bug'))
      await loop.stop()
      assert.deepEqual(work.unexpected, [0])
      assert.deepEqual(member().committed, failDeadLetter ? [] : [0])
    }
  })

  it('pauses the stream at maxInFlight and resumes once a quarter of the room is free', async () => {
    const { loop, member, work } = startLoop({ maxInFlight: 4 })
    await loop.start()
    for (const offset of [0, 1, 2, 3]) member().deliver(offset)
    assert.deepEqual(member().calls, ['pause'])
    assert.equal(loop.inFlight, 4)
    assert.equal(loop.inFlightState(Date.now()).paused, true)
    const resumed = member().nextResume()
    work.end(0).resolve()
    work.end(1).resolve()
    await resumed
    assert.deepEqual(member().calls, ['pause', 'resume'])
    assert.equal(loop.inFlight, 2, 'resumed at 2 in flight (under 3 of 4), not at 3')
    assert.equal(loop.inFlightState(Date.now()).paused, false)
    work.end(2).resolve()
    work.end(3).resolve()
    await loop.stop()
  })

  it('counts the records in flight by the stage their work says it is at', async () => {
    const { loop, member, work } = startLoop()
    await loop.start()
    member().deliver(0)
    work.stage = 'claim'
    member().deliver(1)
    member().deliver(2)
    assert.deepEqual([...loop.inFlightState(Date.now()).stages].sort(), [['attempt', 1], ['claim', 2]])
    for (const offset of [0, 1, 2]) work.end(offset).resolve()
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(loop.inFlightState(Date.now()).stages.size, 0)
    await loop.stop()
  })

  // The soak: each id of an origin that kept refusing had two retry records (one re-read after
  // a crash); the second, queued behind the first's long due wait, counted against the room
  // as work of this process, and loops sat paused at their limit for minutes.
  it('a record queued behind another of its key waits on it: after a while it counts as waiting long, apart from the limit', async () => {
    const { loop, member, work } = startLoop({ commitIntervalMs: 100 })
    work.keyOf = (offset) => (offset < 2 ? 'same-id' : undefined)
    await loop.start()
    member().deliver(0)
    member().deliver(1)
    member().deliver(2)
    try {
      assert.deepEqual(work.runs, [0, 2], 'offset 1 waits for offset 0, of the same key')
      await new Promise((resolve) => setTimeout(resolve, 1300))
      assert.equal(loop.inFlightState(Date.now()).waitingLong, 1, 'the queued one; not 0 (at work) or 2 (no wait of its own)')
      work.end(0).resolve()
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(work.runs, [0, 2, 1])
    } finally {
      for (const offset of [0, 1, 2]) work.end(offset).resolve()
      await loop.stop()
    }
  })

  it('tells the age of the record in flight the longest: the first taken in until it ends, then the next', async () => {
    const { loop, member, work } = startLoop()
    await loop.start()
    assert.equal(loop.oldestInFlightMs(Date.now()), 0, 'none in flight')
    member().deliver(0)
    const firstTaken = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 30))
    member().deliver(1)
    const secondTaken = Date.now()
    work.end(1).resolve()
    await new Promise((resolve) => setImmediate(resolve))
    const later = secondTaken + 1000
    assert.ok(loop.oldestInFlightMs(later) >= later - firstTaken - 1, 'offset 0 still at work: its age, not the newer one’s')
    work.end(0).resolve()
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(loop.oldestInFlightMs(later), 0)
    await loop.stop()
  })
})
