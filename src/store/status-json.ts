// Pure: a notification's status as kept in Redis (`notification_status:…`), one JSON value
// with its attempt history inside, written once per settlement (lua/settle-notifications.lua
// puts the history kept so far before a later attempt's entry). Versions before 2026-12-05
// kept the history in a list of its own (`notification_attempts:…`): it is still read
// until it expires, its entries first.

/** What GET /notifications/{id} shows: kept as long as the done marker. */
export interface NotificationStatus {
  status: 'delivered' | 'retrying' | 'failed'
  attempts: number
  last_status_code: number | null
  last_error: string | null
  next_attempt_at: string | null
  /** Deferrals without an attempt (the destination refused it for now) so far; absent from statuses written before 2026-12-04. */
  deferrals?: number
  updated_at: string
}

export interface AttemptRecord {
  at: string
  status_code: number | null
  error: string | null
  duration_ms: number
}

/** Attempts kept in a notification's history. */
export const MAX_ATTEMPTS_KEPT = 20

/** The status as kept: with the attempts so far (the last MAX_ATTEMPTS_KEPT), oldest first; without them before 2026-12-05. */
type StoredStatus = NotificationStatus & { history?: AttemptRecord[] }

/** The JSON a settlement writes: its status, and in its history only its own attempt (if it made one). */
export function storedStatusJson(status: NotificationStatus, attempt: AttemptRecord | undefined): string {
  const stored: StoredStatus = { ...status, history: attempt === undefined ? [] : [attempt] }
  return JSON.stringify(stored)
}

/** Whether attempts came before this settlement's: then the script puts their history before its entry. */
export function followsEarlierAttempts(status: NotificationStatus, attempt: AttemptRecord | undefined): boolean {
  return status.attempts > (attempt === undefined ? 0 : 1)
}

/** The entries of the list versions before 2026-12-05 kept (JSON each). */
export function listedHistory(listed: readonly string[]): AttemptRecord[] {
  return listed.map((entry) => JSON.parse(entry) as AttemptRecord)
}

/** A stored status and its history, the entries of the old list (`listed`) first. */
export function statusWithHistory(stored: string, listed: readonly string[]): { status: NotificationStatus; history: AttemptRecord[] } {
  const { history, ...status } = JSON.parse(stored) as StoredStatus
  return { status, history: [...listedHistory(listed), ...(history ?? [])].slice(-MAX_ATTEMPTS_KEPT) }
}

/** A status entry as settled, without its history; undefined when there is none, or it is not ours (another writer's key). */
export function parseStatus(text: string | null): NotificationStatus | undefined {
  if (text === null) return undefined
  try {
    const parsed = JSON.parse(text) as Partial<StoredStatus> | null
    if (typeof parsed?.status !== 'string' || typeof parsed.attempts !== 'number' || typeof parsed.updated_at !== 'string') return undefined
    const { history: _history, ...status } = parsed as StoredStatus
    return status
  } catch {
    return undefined
  }
}
