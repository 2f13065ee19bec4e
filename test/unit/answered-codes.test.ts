import { describe, expect, it } from '@jest/globals';
import { ANSWERED_CODES, REFUSAL_KINDS } from '../../src/errors.js';
import { ERROR_TABLE } from '../../src/http/error-table.js';
import { OPENAPI } from '../../src/http/openapi.js';

// The codes an answer's `error.code` can carry: every row of SPEC's table and each relayed
// refusal's fallback, all of them listed in the served OpenAPI document.

/** As much of a JSON Schema as the test walks. */
interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  examples?: string[];
}

describe('the codes the service answers', () => {
  it("are the error table's and the relayed refusals' fallbacks, nothing else", () => {
    const fallbacks = Object.values(REFUSAL_KINDS).map((k) => k.fallbackCode);
    expect([...ANSWERED_CODES].sort()).toEqual([...Object.keys(ERROR_TABLE), ...fallbacks].sort());
    expect(new Set(ANSWERED_CODES).size).toBe(ANSWERED_CODES.length);
  });

  it("are all listed in /openapi.json under the error envelope's code", () => {
    const schemas = OPENAPI.components.schemas as Record<string, JsonSchema>;
    const code = schemas.ErrorEnvelope?.properties?.error?.properties?.code;
    expect([...(code?.examples ?? [])].sort()).toEqual([...ANSWERED_CODES].sort());
  });
});
