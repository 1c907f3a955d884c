// The one test of "an absolute http(s) URL" (callback URLs, origins in settings, the OTLP
// endpoint, what the HTTP client will send to): parsed by WHATWG URL, scheme http or https,
// a host present.

/** The parsed URL when `text` is an absolute http:// or https:// URL with a host; else undefined. */
export function parseHttpUrl(text: string): URL | undefined {
  const url = URL.parse(text)
  return url !== null && isHttpUrl(url) ? url : undefined
}

/** An already parsed URL whose scheme is http or https and which has a host. */
export function isHttpUrl(url: URL): boolean {
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
}

/** "https://API.example.com:443/" → "https://api.example.com"; undefined when not an http(s) origin. */
export function originOfSetting(text: string): string | undefined {
  const url = parseHttpUrl(text)
  if (url === undefined) return undefined
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') return undefined
  return url.origin
}
