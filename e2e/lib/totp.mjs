// An authenticator app for the two-factor tests: TOTP codes (SHA-1, six digits, 30 s) computed with
// otpauth from the base32 secret Gatehouse hands out.

import * as OTPAuth from 'otpauth';

const totpFor = (secret) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });

/** The code an authenticator app would show `offsetSteps` 30-second steps from now. */
export function totpCode(secret, offsetSteps = 0) {
  return totpFor(secret).generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

/** A six-digit code the server does not accept now (none of the previous, current or next step). */
export function wrongTotpCode(secret) {
  const accepted = new Set([-1, 0, 1].map((o) => totpCode(secret, o)));
  for (let n = 0; ; n++) {
    const candidate = String(111111 + n).padStart(6, '0');
    if (!accepted.has(candidate)) return candidate;
  }
}

/** Codes for a secret, never reusing a time step (the server accepts each step once). */
export function authenticator(secret) {
  const totp = totpFor(secret);
  let lastStep = -Infinity;
  return {
    last: null,
    async next() {
      let step = Math.floor(Date.now() / 30_000);
      if (step <= lastStep) step = lastStep + 1;
      // The server accepts one step ahead; wait if that is not enough.
      while (step > Math.floor(Date.now() / 30_000) + 1) await new Promise((r) => setTimeout(r, 500));
      lastStep = step;
      this.last = totp.generate({ timestamp: step * 30_000 });
      return this.last;
    },
  };
}
