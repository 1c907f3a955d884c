// `new Date(ms).toISOString()`, with the date and time up to the second formatted once per
// second: V8 formats a Date in 1–2 µs, and every settlement writes two timestamps (its
// attempt's and its status's), mostly within the same second. Times outside years
// 0000–9999 (written with a sign and six digits) and fractions of a millisecond go to
// toISOString itself.

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z */
const FIRST_FOUR_DIGIT_YEAR_MS = -62_167_219_200_000
const LAST_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999

const MILLISECONDS = Array.from({ length: 1000 }, (_, n) => `${String(n).padStart(3, '0')}Z`)

let cachedSecond = Number.NaN
/** "YYYY-MM-DDTHH:MM:SS." of cachedSecond */
let cachedPrefix = ''

export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < FIRST_FOUR_DIGIT_YEAR_MS || ms > LAST_FOUR_DIGIT_YEAR_MS) return new Date(ms).toISOString()
  const second = Math.floor(ms / 1000)
  if (second !== cachedSecond) {
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20)
    cachedSecond = second
  }
  return cachedPrefix + MILLISECONDS[ms - second * 1000]!
}
