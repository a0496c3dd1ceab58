import { encodeComponent } from "./query.js";

/**
 * An API path from a template's parts, each id percent-encoded. Ids the
 * server makes are URL-safe, so the path is also the decoded path that URL
 * signatures cover.
 */
export function apiPath(strings: TemplateStringsArray, ...ids: (string | number)[]): string {
  return strings.reduce((path, part, i) => path + part + (i < ids.length ? encodeComponent(String(ids[i])) : ""), "");
}
