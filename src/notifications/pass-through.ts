// Pure: the success body cut out of the record's own text. Contract §2: the body is the
// ProcessingResult "with response.callback_url removed and every other field kept as
// received", so instead of parsing, rebuilding and serialising the result again, the one
// member is cut out of the JSON as it arrived; everything else keeps its bytes (numbers as
// written, escapes, whitespace). For the compact JSON that JSON.stringify and most
// producers write, this is byte for byte what re-serialising gave.
//
// The text has already been parsed by JSON.parse (classify), so it is valid JSON; this only
// finds member boundaries. Where the cut could disagree with what JSON.parse read, it
// refuses (undefined) and the caller serialises the parsed object instead: a top-level or
// `response` key written with an escape (`"respons\u0065"` is `response` to JSON.parse),
// two `response` members or two `callback_url` members (JSON.parse keeps the last one).

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d

/** The JSON object text without `response.callback_url`, or undefined where the cut is not certain to be right. */
export function withoutResponseCallbackUrl(text: string): string | undefined {
  // Most texts have no escape at all: then no key has one, and a string ends at the next quote.
  const escapes = text.includes('\\')
  let i = skipSpace(text, 0)
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined
  let response: Cut | undefined
  i = skipSpace(text, i + 1)
  while (text.charCodeAt(i) === QUOTE) {
    const keyEnd = stringEnd(text, i, escapes)
    if (escapes && hasBackslash(text, i, keyEnd)) return undefined
    const isResponse = keyEnd - i === 10 && text.startsWith('"response"', i)
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1)
    let valueEnd: number
    if (isResponse) {
      if (response !== undefined || text.charCodeAt(valueStart) !== OPEN_BRACE) return undefined
      const found = callbackUrlMember(text, valueStart, escapes)
      if (found === undefined) return undefined
      response = found
      valueEnd = found.objectEnd
    } else {
      valueEnd = skipValue(text, valueStart, escapes)
    }
    i = skipSpace(text, valueEnd)
    if (text.charCodeAt(i) !== COMMA) break
    i = skipSpace(text, i + 1)
  }
  if (response === undefined) return undefined
  if (response.from === response.to) return text
  return text.slice(0, response.from) + text.slice(response.to)
}

interface Cut {
  /** What to remove: [from, to); empty when there is no callback_url. */
  readonly from: number
  readonly to: number
  /** Index just past the object's closing brace. */
  readonly objectEnd: number
}

/** Where the callback_url member of the object opening at `open` is, with the comma that separates it. */
function callbackUrlMember(text: string, open: number, escapes: boolean): Cut | undefined {
  let from = 0
  let to = 0
  let found = false
  /** End of the previous member's value: a last member is cut together with the comma before it. */
  let previousValueEnd = -1
  let i = skipSpace(text, open + 1)
  while (text.charCodeAt(i) === QUOTE) {
    const keyStart = i
    const keyEnd = stringEnd(text, i, escapes)
    if (escapes && hasBackslash(text, keyStart, keyEnd)) return undefined
    const isCallbackUrl = keyEnd - keyStart === 14 && text.startsWith('"callback_url"', keyStart)
    const valueEnd = skipValue(text, skipSpace(text, skipSpace(text, keyEnd) + 1), escapes)
    i = skipSpace(text, valueEnd)
    const more = text.charCodeAt(i) === COMMA
    if (more) i = skipSpace(text, i + 1)
    if (isCallbackUrl) {
      if (found) return undefined
      found = true
      // Followed by another member: up to that member's key. Last: from the previous value's end.
      from = more || previousValueEnd < 0 ? keyStart : previousValueEnd
      to = more ? i : valueEnd
    }
    previousValueEnd = valueEnd
    if (!more) break
  }
  // i is at the closing brace.
  return { from, to, objectEnd: i + 1 }
}

/** Index just past the string whose opening quote is at `start`; `escapes`: whether the text has any backslash. */
function stringEnd(text: string, start: number, escapes: boolean): number {
  let quote = text.indexOf('"', start + 1)
  if (!escapes) return quote < 0 ? text.length : quote + 1
  for (;;) {
    if (quote < 0) return text.length
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return quote + 1
    quote = text.indexOf('"', quote + 1)
  }
}

/** Index just past the value starting at `start` (a string, object, array, number or literal). */
function skipValue(text: string, start: number, escapes: boolean): number {
  const first = text.charCodeAt(start)
  if (first === QUOTE) return stringEnd(text, start, escapes)
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    let i = start
    for (let c = text.charCodeAt(i); c !== COMMA && c !== CLOSE_BRACE && c !== CLOSE_BRACKET && !isSpace(c) && i < text.length; c = text.charCodeAt(++i));
    return i
  }
  let depth = 0
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) i = stringEnd(text, i, escapes) - 1
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++
    else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1
  }
  return text.length
}

function hasBackslash(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === BACKSLASH) return true
  return false
}

function skipSpace(text: string, start: number): number {
  let i = start
  while (isSpace(text.charCodeAt(i))) i++
  return i
}

/** JSON's insignificant whitespace: space, tab, line feed, carriage return. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}
