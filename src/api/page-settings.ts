/**
 * What the page's script is told: the server's own limits, so the checks in the browser use the
 * same numbers as the server's (one definition, injected), and nothing else. `http/routes/form.ts`
 * writes it into the page; `web/form.ts` reads it.
 */
export interface PageSettings {
  maxFiles: number;
  maxFileBytes: number;
  maxTotalBytes: number;
  nameMaxChars: number;
  minAudioSeconds: number;
  maxAudioSeconds: number;
  requireConsent: boolean;
  pollMs: number;
  accept: readonly string[];
}
