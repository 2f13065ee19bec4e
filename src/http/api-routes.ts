/** The API's routes: where app.ts mounts them, and how a request's path is told apart before Express matches it. */
export const API_ROUTES = {
  clone: '/api/voices/clone',
  voice: '/api/voices/:id',
} as const;

/**
 * API_ROUTES as patterns, in their order (most specific first): a `:param` is one path segment,
 * and a trailing slash matches as Express's non-strict routing does.
 */
const PATTERNS: readonly [string, RegExp][] = Object.values(API_ROUTES).map((template) => [
  template,
  new RegExp(`^${template.replace(/:[^/]+/g, '[^/]+')}/?$`),
]);

/**
 * The API route a path is for, or undefined: for a request refused before Express matched a
 * route (draining, the origin guard, identity), so /metrics counts it under its route (SPEC
 * "requests by route and status") and not among the unknown paths.
 */
export function apiRouteOf(path: string): string | undefined {
  return PATTERNS.find(([, pattern]) => pattern.test(path))?.[0];
}
