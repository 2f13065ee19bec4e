import { ServiceError } from '../errors.js';
import type { CloneRequest } from './validate-upload.js';

/** Pipeline step: with REQUIRE_CONSENT=true a clone needs the speaker's permission confirmed (SPEC 400 consent_required). */
export function requireConsent(request: CloneRequest, required: boolean): void {
  if (required && !request.consent) {
    throw new ServiceError(
      'consent_required',
      "Confirm that you have the speaker's permission to clone this voice (send consent=true).",
      { field: 'consent' },
    );
  }
}
