// What the bundle gets for `undici` (tsconfig.json `paths`; ncc resolves
// through it). @actions/http-client imports undici for one method,
// getAgentDispatcher, that neither our code nor any dependency calls; the real
// package was half of dist/main, compiled on every start of main and post.
// __tests__/no-undici.test.ts fails when that stops being true.

/** Stands in for undici's ProxyAgent: never built by anything the action runs. */
export class ProxyAgent {
  constructor() {
    throw new Error('undici is not bundled with this action (src/util/no-undici.ts): getAgentDispatcher is not supported');
  }
}
