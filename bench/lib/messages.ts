// What the benchmark produces: ProcessingResults (contract §1) spread over callback origins
// and partitions, each carrying `sent_at` (ms epoch) inside `response`. Unknown fields are
// passed through to the client (contract §2), so the receiver can compute latency.

export const RESULT_KEY = 'new_sending'

export interface Layout {
  readonly partitions: number
  readonly origins: number
}

/**
 * Consecutive results go round-robin over partitions; within a partition they go
 * round-robin over origins, so every partition sees every origin (gcd(20, 6) ≠ 1 would
 * otherwise pair each partition with only half of the origins).
 */
export function partitionOf(layout: Layout, index: number): number {
  return index % layout.partitions
}

export function originOf(layout: Layout, index: number): number {
  return Math.floor(index / layout.partitions) % layout.origins
}

/** How many of the first n results go to origins other than `origin`. */
export function countExcluding(layout: Layout, n: number, origin: number): number {
  let count = 0
  for (let index = 0; index < n; index++) if (originOf(layout, index) !== origin) count++
  return count
}

/** The result's `response`, without callback_url: what a client receives. */
function responseFields(processingId: number, sentAt: number): string {
  return `"processing_id":${processingId},"user_id":2,"resume_id":3,"requirements_id":4,"score":87,"matches":["Python","SQL","Kafka"],"recommendation":"Invite to a technical interview","verdict":"suitable","sent_at":${sentAt}`
}

/** The Kafka record's value: a successful ProcessingResult. */
export function resultJson(processingId: number, callbackUrl: string, sentAt: number): string {
  return `{"success":true,"response":{"callback_url":${JSON.stringify(callbackUrl)},${responseFields(processingId, sentAt)}},"message_error":null,"wait_seconds":null}`
}

/** The body the service POSTs for that result (the result minus response.callback_url). */
export function notificationJson(processingId: number, sentAt: number): string {
  return `{"success":true,"response":{${responseFields(processingId, sentAt)}},"message_error":null,"wait_seconds":null}`
}

/** Processing ids unique across runs (Redis keeps "sent" markers for days). */
export function processingIdBase(): number {
  return Date.now() * 1000
}
