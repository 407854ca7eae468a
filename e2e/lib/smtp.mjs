// An in-process SMTP sink for the email tests: npm `smtp-server` (plain SMTP, no TLS, no auth) on a
// loopback port, every message parsed with `mailparser` and kept in memory.
//
//   const sink = await startSmtpSink();            // or startSmtpSink({ port }) for a fixed port
//   const msg = await sink.waitFor({ to: email, subject: /sign-in code/ });
//   const code = codeFrom(msg);                     // the six digits in the subject
//   await sink.close();

import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

/**
 * Starts the sink. Resolves `{port, url, messages, waitFor, count, close}`; `url` is the
 * `smtp://127.0.0.1:<port>` to give Gatehouse (`--smtp-url`).
 */
export async function startSmtpSink({ port = 0 } = {}) {
  const messages = [];
  const waiters = new Set();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (m) => {
          const message = {
            from: m.from?.text ?? '',
            to: m.to?.text ?? '',
            subject: m.subject ?? '',
            text: m.text ?? '',
            html: typeof m.html === 'string' ? m.html : '',
            headers: m.headers,
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            receivedAt: Date.now(),
          };
          messages.push(message);
          for (const w of [...waiters]) w.check();
          callback();
        },
        (err) => callback(err),
      );
    },
  });
  server.on('error', () => {
    // A client dropping the connection is not a test failure; the waiters time out if mail is missing.
  });
  await new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.server.address().port;

  /** Messages matching `{to, subject}` (`to` compared case-insensitively against the envelope recipients). */
  function matching({ to, subject } = {}) {
    return messages.filter((m) => {
      if (to && !m.envelope.to.some((a) => a.toLowerCase() === to.toLowerCase())) return false;
      if (subject instanceof RegExp && !subject.test(m.subject)) return false;
      if (typeof subject === 'string' && !m.subject.includes(subject)) return false;
      return true;
    });
  }

  /**
   * Waits until at least `count` messages match (default 1) and resolves the `count`-th one
   * (in arrival order). Rejects after `timeoutMs` with what did arrive.
   */
  function waitFor(filter = {}, { count = 1, timeoutMs = 10_000 } = {}) {
    return new Promise((resolve, reject) => {
      const waiter = {
        check() {
          const found = matching(filter);
          if (found.length >= count) {
            clearTimeout(waiter.timer);
            waiters.delete(waiter);
            resolve(found[count - 1]);
            return true;
          }
          return false;
        },
      };
      if (waiter.check()) return;
      waiter.timer = setTimeout(() => {
        waiters.delete(waiter);
        const seen = messages.map((m) => `${m.envelope.to.join(',')}: ${m.subject}`);
        reject(
          new Error(
            `SMTP sink: no message #${count} matching ${JSON.stringify({ to: filter.to, subject: String(filter.subject ?? '') })} ` +
              `within ${timeoutMs} ms; received ${messages.length}: ${JSON.stringify(seen)}`,
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  }

  return {
    port: actualPort,
    url: `smtp://127.0.0.1:${actualPort}`,
    messages,
    matching,
    waitFor,
    count: (filter) => matching(filter).length,
    close: () =>
      new Promise((resolve) => {
        for (const w of waiters) clearTimeout(w.timer);
        waiters.clear();
        server.close(() => resolve());
      }),
  };
}

/** The six-digit code of a sign-in / verification message, from its subject (and checked against the bodies). */
export function codeFrom(message) {
  const m = message.subject.match(/\b(\d{6})\b/);
  if (!m) throw new Error(`no six-digit code in the subject ${JSON.stringify(message.subject)}`);
  return m[1];
}

/** The password reset link in a reset message's text part (the first URL with a `token` query parameter). */
export function resetLinkFrom(message) {
  const m = message.text.match(/https?:\/\/[^\s?]+\?\S*?\btoken=[A-Za-z0-9_\-.~%]+/);
  if (!m) throw new Error(`no reset link in the text part:\n${message.text}`);
  return new URL(m[0]);
}
