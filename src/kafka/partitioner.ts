// Which partition a keyed record goes to: Kafka's own rule (murmur2 of the key bytes, made
// positive, modulo the partition count; the client applies the modulo), so Java and other
// clients put a key on the same partition. The client library's murmur2 works in BigInt
// and allocates for every step; this one stays in 32-bit integers.

const SEED = 0x9747b28c
const M = 0x5bd1e995

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = (SEED ^ length) | 0
  const whole = length - (length % 4)
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  const rest = length - whole
  if (rest === 3) h ^= data[whole + 2]! << 16
  if (rest >= 2) h ^= data[whole + 1]! << 8
  if (rest >= 1) h = Math.imul(h ^ data[whole]!, M)
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

/** A producer partitioner: keyed records by Kafka's rule, unkeyed ones round-robin. */
export function createPartitioner(): (message: unknown, key: Buffer | undefined) => number {
  let next = 0
  return (_message, key) => (key === undefined ? (next = (next + 1) & 0x7fffffff) : murmur2(key) & 0x7fffffff)
}
