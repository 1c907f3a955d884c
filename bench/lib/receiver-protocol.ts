// Messages between the benchmark and its receiver child (IPC).

export interface ResetCommand {
  /** processing_id of result 0; results are base … base + n - 1. */
  base: number
  n: number
  /** Origin index that never answers, or -1. */
  hangOrigin: number
}

export interface ReceiverCounts {
  /** Distinct results received by answering origins (the deliveries). */
  delivered: number
  /** Requests for a result already received. */
  duplicates: number
  /** Requests whose processing_id is not one of this phase's. */
  unknown: number
  /** Requests to the hanging origin (never answered). */
  hung: number
  /** All requests. */
  requests: number
  /** --destination oauth2-mtls: requests refused (401) for want of a valid token, and tokens issued by POST /token. */
  unauthorized: number
  tokensIssued: number
  /** Receive time (ms epoch) of the first and last delivery; 0 when none. */
  first: number
  last: number
}

export interface LatencySummary {
  count: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

export interface ReceiverFinal extends ReceiverCounts {
  /** Receive time − sent_at, in ms, over deliveries. */
  latencyMs: LatencySummary
  perOrigin: Array<{ origin: string; delivered: number; first: number; last: number }>
  /** The slowest deliveries with their receive time (ms epoch), to line up with the service's --trace-gc or logs. */
  slowest: Array<{ latencyMs: number; receivedAt: number; processingId: number }>
}

export type ToReceiver = { id: number; type: 'reset'; reset: ResetCommand } | { id: number; type: 'counts' } | { id: number; type: 'final' } | { id: number; type: 'close' }

export type FromReceiver = { type: 'ready'; port: number; origins: string[] } | { type: 'reply'; id: number; data: unknown }
