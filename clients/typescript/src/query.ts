/** A query parameter's value; arrays repeat the key, null and undefined leave it out. */
export type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];

export type QueryPairs = [string, string][];

/** The parameters of a record as key/value pairs, in the record's order. */
export function toPairs(query: Record<string, QueryValue> | undefined): QueryPairs {
  const pairs: QueryPairs = [];
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) pairs.push([key, String(v)]);
  }
  return pairs;
}

/**
 * Percent-encodes all but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`),
 * with upper-case hex: the spelling of the URL-signature rule, and one that
 * every server reads the same (no `+` for a space).
 */
export function encodeComponent(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `key=value&…`, each part percent-encoded. */
export function formatQuery(pairs: QueryPairs): string {
  return pairs.map(([k, v]) => `${encodeComponent(k)}=${encodeComponent(v)}`).join("&");
}
