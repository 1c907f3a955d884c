// What acks=all costs a producer against acks=1 on the three-broker SASL_SSL cluster of
// scripts/kafka-cluster.sh (started if it is not running; left running), measured the way
// the service produces: batches of records (its publisher sends up to 500 per request,
// what arrived within a few ms), several sends in flight. Runs alternate between the two
// settings, so both see the same machine.
//
//   node bench/produce-acks.ts [--records 60000] [--batch 50] [--in-flight 20] [--rounds 3]
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Admin, ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka'
import { cluster, clusterConnection, clusterEnv } from '../test/helpers/cluster.ts'

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '60000' },
    batch: { type: 'string', default: '50' },
    'in-flight': { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
  },
})
const records = Number(values.records)
const batch = Number(values.batch)
const inFlight = Number(values['in-flight'])
const rounds = Number(values.rounds)
const PARTITIONS = 6
/** About the size of an outcome record. */
const VALUE = JSON.stringify({ processing_id: 0, status: 'delivered', status_code: 200, attempts: 1, at: new Date().toISOString(), pad: 'x'.repeat(200) })

// starts the brokers that do not answer; nothing when all three do
await cluster(['start'], 600_000)
const connection = clusterConnection(await clusterEnv())
const topic = `bench-acks-${randomUUID().slice(0, 8)}`
const admin = new Admin({ clientId: 'bench-acks-admin', ...connection })
await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 3, configs: [{ name: 'min.insync.replicas', value: '2' }] })
await admin.close()

/** One run: `records` records in batches, `inFlight` sends at a time; per-send latency and throughput. */
async function run(acks: number): Promise<{ perSecond: number; p50: number; p99: number; cpuMsPerRecord: number }> {
  const producer = new Producer({ clientId: 'bench-acks', ...connection, serializers: stringSerializers })
  // warm-up: metadata and connections to every leader
  await producer.send({ messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, key: 'w', value: VALUE })), acks })
  const latencies: number[] = []
  let next = 0
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < records) {
      const first = next
      next += batch
      const messages = Array.from({ length: Math.min(batch, records - first) }, (_, i) => ({ topic, partition: (first + i) % PARTITIONS, key: String(first + i), value: VALUE }))
      const sentAt = performance.now()
      await producer.send({ messages, acks })
      latencies.push(performance.now() - sentAt)
    }
  }))
  const elapsed = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  await producer.close()
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return { perSecond: Math.round((records / elapsed) * 1000), p50: at(0.5), p99: at(0.99), cpuMsPerRecord: (cpu.user + cpu.system) / 1000 / records }
}

console.log(`topic ${topic}: ${PARTITIONS} partitions, replication 3, min.insync.replicas 2; ${records} records of ${VALUE.length} B, batches of ${batch}, ${inFlight} sends in flight`)
console.log('| round | acks | records/s | send p50 | send p99 | producer CPU per record |')
console.log('|---|---|--:|--:|--:|--:|')
for (let round = 1; round <= rounds; round++) {
  // alternate which goes first, so neither always runs on a warmer machine
  const order = round % 2 === 1 ? [ProduceAcks.LEADER, ProduceAcks.ALL] : [ProduceAcks.ALL, ProduceAcks.LEADER]
  for (const acks of order) {
    const r = await run(acks)
    console.log(`| ${round} | ${acks === ProduceAcks.ALL ? 'all (-1)' : 'leader (1)'} | ${r.perSecond} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${(r.cpuMsPerRecord * 1000).toFixed(1)} µs |`)
  }
}
