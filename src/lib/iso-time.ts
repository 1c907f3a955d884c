// `new Date(ms).toISOString()`, remembered for the last millisecond asked: at thousands of
// notifications a second, several of them settle within the same millisecond, and each
// settlement writes two timestamps (its attempt and its status).

let lastMs = Number.NaN
let lastIso = ''

export function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString()
    lastMs = ms
  }
  return lastIso
}
