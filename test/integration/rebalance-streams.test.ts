// What a consumer loop is handed across rebalances, on a real broker: after every assignment
// the member's records start again at each owned partition's committed offset and follow in
// order, and nothing fetched for an earlier assignment arrives after it. The client's own
// stream only moved its offsets to the committed ones at a rebalance; a fetch in flight then
// answered with records of the old assignment and moved the position past a stretch no one
// handled (the soak, issue 21: 32 retries of one partition committed past, never sent).
// Nothing is committed here, so every start is offset 0.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Admin, ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka'
import { loadConfig } from '../../src/config.ts'
import { plaintextConnection } from '../../src/kafka/connection.ts'
import { GroupMembership } from '../../src/kafka/group-membership.ts'
import { partitionKey } from '../../src/kafka/offset-tracker.ts'
import { createLogger } from '../../src/log.ts'
import { BROKERS, uniqueTopics } from '../helpers/kafka.ts'

const PARTITIONS = 2
const tuning = loadConfig({}).tuning
const logger = createLogger({ level: 'silent', dir: undefined, stdout: false }).logger

/** A member of `groupId` that checks what it is handed against what the group assigned it. */
function checkedMember(topic: string, groupId: string, name: string) {
  const seen = { joins: 0, records: 0, owned: new Set<string>(), next: new Map<string, bigint>(), wrong: [] as string[] }
  const shutdown = new AbortController()
  const membership = new GroupMembership({
    name, connection: plaintextConnection(BROKERS), clientId: 'rebalance-test', groupId, topics: [topic], tuning, logger, shutdown: shutdown.signal,
    onAssigned: (owned) => (seen.owned = new Set(owned)),
    onJoined: () => {
      seen.joins++
      seen.next = new Map()
    },
    onMessage: ({ partition, offset }) => {
      const key = partitionKey(topic, partition)
      const expected = seen.next.get(key) ?? 0n
      if (!seen.owned.has(key)) seen.wrong.push(`join ${seen.joins}: ${key}@${offset} of a partition not assigned`)
      else if (offset !== expected) seen.wrong.push(`join ${seen.joins}: ${key}@${offset} where ${expected} was next`)
      seen.next.set(key, offset + 1n)
      seen.records++
    },
  })
  return { seen, membership, stop: () => (shutdown.abort(), membership.leave()) }
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('a group member across rebalances (real broker)', () => {
  const topic = uniqueTopics('rebalance').KAFKA_TOPIC_FOR_SENDING
  const groupId = `${topic}.group`
  const producer = new Producer({ clientId: 'rebalance-test-producer', bootstrapBrokers: BROKERS, serializers: stringSerializers, acks: ProduceAcks.LEADER })
  let producing: Promise<void> | undefined
  let stopProducing = false

  before(async () => {
    const admin = new Admin({ clientId: 'rebalance-test-admin', bootstrapBrokers: BROKERS })
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 }).finally(() => admin.close())
    // Records keep coming, so that fetches are in flight, with records, whenever the group rebalances.
    producing = (async () => {
      for (let n = 0; !stopProducing; n++) {
        const messages = Array.from({ length: 10 }, (_, i) => ({ topic, partition: i % PARTITIONS, key: `k${n}-${i}`, value: 'x' }))
        await producer.send({ messages })
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })()
  })

  after(async () => {
    stopProducing = true
    await producing
    await producer.close()
  })

  test('after each assignment, each owned partition is handed on from its committed offset, in order, and nothing of an older assignment follows', async () => {
    const member = checkedMember(topic, groupId, 'm')
    await member.membership.join(tuning.commitIntervalMs)
    try {
      await until(() => member.seen.owned.size === PARTITIONS && member.seen.records > 100, 'the first member to read both partitions')
      for (let round = 1; round <= 3; round++) {
        const other = checkedMember(topic, groupId, `other-${round}`)
        await other.membership.join(tuning.commitIntervalMs)
        await until(() => member.seen.owned.size === 1 && other.seen.owned.size === 1, `round ${round}: the partitions shared`)
        const before = member.seen.records
        await until(() => member.seen.records > before + 100, `round ${round}: records read while sharing`)
        await other.stop()
        assert.deepEqual(other.seen.wrong, [], `the member that came and went, round ${round}`)
        await until(() => member.seen.owned.size === PARTITIONS, `round ${round}: both partitions back`)
        const back = member.seen.records
        await until(() => member.seen.records > back + 100, `round ${round}: records read after`)
      }
      assert.deepEqual(member.seen.wrong, [])
      assert.ok(member.seen.joins >= 7, `a new stream at every assignment (${member.seen.joins} for 7 assignments)`)
      for (let partition = 0; partition < PARTITIONS; partition++) {
        assert.ok((member.seen.next.get(partitionKey(topic, partition)) ?? 0n) > 0n, `partition ${partition} read since the last assignment`)
      }
    } finally {
      await member.stop()
    }
  })
})
