// Gatehouse passkeys: "Sign in with a passkey" (and autofill) on the sign-in page, "Add a
// passkey" on the account-security page. Served from /authkit/static/ so the pages' CSP can
// keep forbidding inline script.
(() => {
  'use strict';

  const toB64url = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const fromB64url = (text) => {
    let s = text.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    const binary = atob(s);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out.buffer;
  };

  async function post(url, body, csrf) {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await res.json();
    } catch {
      // not JSON: fall through to the generic message
    }
    if (!res.ok) throw new Error(data.error || data.message || 'Something went wrong. Please try again.');
    return data;
  }

  const withIds = (list) => (list || []).map((c) => ({ ...c, id: fromB64url(c.id) }));

  function creationOptions(options) {
    const pk = options.publicKey;
    return { ...pk, challenge: fromB64url(pk.challenge), user: { ...pk.user, id: fromB64url(pk.user.id) }, excludeCredentials: withIds(pk.excludeCredentials) };
  }

  function requestOptions(options) {
    const pk = options.publicKey;
    return { ...pk, challenge: fromB64url(pk.challenge), allowCredentials: withIds(pk.allowCredentials) };
  }

  const attestation = (c) => ({
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    response: { attestationObject: toB64url(c.response.attestationObject), clientDataJSON: toB64url(c.response.clientDataJSON) },
    extensions: {},
  });

  const assertion = (c) => ({
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    response: {
      authenticatorData: toB64url(c.response.authenticatorData),
      clientDataJSON: toB64url(c.response.clientDataJSON),
      signature: toB64url(c.response.signature),
      userHandle: c.response.userHandle ? toB64url(c.response.userHandle) : null,
    },
    extensions: {},
  });

  function explain(error, action) {
    if (error && error.name === 'NotAllowedError') return `${action} was cancelled or timed out.`;
    if (error && error.name === 'InvalidStateError') return 'This device already has a passkey for your account.';
    if (error && error.name === 'SecurityError') return 'Passkeys are not available on this address.';
    return (error && error.message) || 'Something went wrong. Please try again.';
  }

  function showError(box, message) {
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  // Sign-in page.
  const signIn = document.getElementById('passkey-sign-in');
  if (signIn && window.PublicKeyCredential && navigator.credentials) {
    const { request, csrf } = signIn.dataset;
    const errorBox = document.getElementById('passkey-error');
    let autofill = null;
    let clicked = false;

    async function run(conditional) {
      const { ceremony, options } = await post('/authkit/passkey/options', { request }, csrf);
      // The button was pressed while the autofill request was being prepared: it has its own.
      if (conditional && clicked) return;
      const args = { publicKey: requestOptions(options) };
      if (conditional) {
        autofill = new AbortController();
        args.mediation = 'conditional';
        args.signal = autofill.signal;
      }
      const credential = await navigator.credentials.get(args);
      if (!credential) return;
      const done = await post('/authkit/passkey/sign-in', { request, ceremony, credential: assertion(credential) }, csrf);
      window.location.assign(done.location);
    }

    document.getElementById('passkey-option').hidden = false;
    signIn.addEventListener('click', async () => {
      clicked = true;
      if (autofill) autofill.abort();
      autofill = null;
      errorBox.hidden = true;
      signIn.disabled = true;
      try {
        await run(false);
      } catch (e) {
        showError(errorBox, explain(e, 'Passkey sign-in'));
      } finally {
        signIn.disabled = false;
      }
    });
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
        if (!available) return;
        run(true).catch((e) => {
          if (e && e.name !== 'AbortError') showError(errorBox, explain(e, 'Passkey sign-in'));
        });
      });
    }
  }

  // Account-security page.
  const add = document.getElementById('add-passkey');
  if (add && window.PublicKeyCredential && navigator.credentials) {
    const errorBox = document.getElementById('passkey-error');
    const button = add.querySelector('button');
    add.hidden = false;
    add.addEventListener('submit', async (event) => {
      event.preventDefault();
      errorBox.hidden = true;
      button.disabled = true;
      try {
        const csrf = add.dataset.csrf;
        const { ceremony, options } = await post('/authkit/security/passkeys/options', {}, csrf);
        const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
        const done = await post('/authkit/security/passkeys', { ceremony, name: add.elements.name.value, credential: attestation(credential) }, csrf);
        window.location.assign(done.location);
      } catch (e) {
        showError(errorBox, explain(e, 'Adding a passkey'));
      } finally {
        button.disabled = false;
      }
    });
  }
})();
