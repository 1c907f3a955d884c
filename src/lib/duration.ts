// Durations as people write them in settings: "500ms", "5s", "2m", "1h", "1d".
// A bare number means seconds, as in the rest of the contract.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/

/** Milliseconds for one duration, or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim())
  if (!match) return undefined
  const unit = (match[2] ?? 's') as keyof typeof UNIT_MS
  const ms = Number(match[1]) * UNIT_MS[unit]
  return Number.isFinite(ms) ? Math.round(ms) : undefined
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}
