// A pure function of one string, remembered for up to `max` arguments at a time (all of them
// forgotten when full, so any mix of arguments stays bounded). For work done again and
// again on the same few values: many notifications share one callback URL.

export function memoByString<T>(compute: (key: string) => T, max = 1000): (key: string) => T {
  const known = new Map<string, T>()
  return (key) => {
    let value = known.get(key)
    if (value === undefined && !known.has(key)) {
      value = compute(key)
      if (known.size >= max) known.clear()
      known.set(key, value)
    }
    return value as T
  }
}
