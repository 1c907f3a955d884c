// A consumer group member's client as this service configures it (every error of it heard),
// and what it tells of its assignment and lag, in the shapes the consumer loop uses.
import { Consumer, stringDeserializer, type Message } from '@platformatic/kafka'
import { describeError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { KafkaConnection } from './connection.ts'
import { listenToConnectionErrors } from './connection-errors.ts'
import { partitionKey } from './offset-tracker.ts'

export type KafkaMessage = Message<string, Buffer, string, string>
export type KafkaConsumer = Consumer<string, Buffer, string, string>

export interface GroupConsumerOptions {
  /** For logs and the client id: "input", "retry.5s", … */
  readonly name: string
  readonly connection: KafkaConnection
  readonly clientId: string
  readonly groupId: string
  /** Static membership: this replica's stable id in the group (KAFKA_GROUP_INSTANCE_ID). */
  readonly groupInstanceId?: string | undefined
  readonly logger: Logger
}

/**
 * A group member's client, every error of it heard. Besides its connections' (connection-errors.ts):
 * after a heartbeat error the client rejoins the group by itself, and reports a rejoin that
 * failed as an 'error' event on the consumer (2.12.1: consumer.js, the heartbeat's rejoin).
 * Unheard, Node ends the process: the soak saw a replica stopping on SIGTERM exit 1 with
 * "Connection pool is closed". The member is replaced by the watchdog if it stays out.
 */
export function groupConsumer(options: GroupConsumerOptions): KafkaConsumer {
  const { name, clientId, groupId, groupInstanceId, connection, logger } = options
  const consumer: KafkaConsumer = listenToConnectionErrors(new Consumer({
    clientId: `${clientId}-${name}`,
    groupId,
    ...connection,
    ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
    deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
    autocommit: false,
    // A replica that dies is noticed within 10 s; its partitions (and their waiting retries) move on.
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    rebalanceTimeout: 30_000,
    retries: 5,
    retryDelay: 500,
  }), (error, broker) => logger.debug({ broker, error: describeError(error) }, 'Kafka broker connection failed'))
  consumer.on('error', (error: Error) => logger.warn({ loop: name, error: describeError(error) }, 'rejoining the group after a heartbeat error failed'))
  return consumer
}

/** The partitions of an assignment, as partitionKey names them. */
export function ownedPartitions(assignments: ReadonlyArray<{ topic: string; partitions: readonly number[] }> | null | undefined): Set<string> {
  const owned = new Set<string>()
  for (const { topic, partitions } of assignments ?? []) {
    for (const partition of partitions) owned.add(partitionKey(topic, partition))
  }
  return owned
}

/** The client's lag report as a list; a partition it could not measure (negative) is left out. */
export function lagByPartition(lag: ReadonlyMap<string, readonly bigint[]>): Array<{ topic: string; partition: number; lag: number }> {
  const list: Array<{ topic: string; partition: number; lag: number }> = []
  for (const [topic, partitions] of lag) {
    partitions.forEach((waiting, partition) => {
      if (waiting >= 0n) list.push({ topic, partition, lag: Number(waiting) })
    })
  }
  return list
}
