// Issue 10: the Events API through the node SDK. `events.listEvents` pages through thousands of
// events written concurrently, nothing lost or repeated; filters and ranges; the payloads
// deserialise into the SDK's types; bad filters are 422.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';

const gh = useGatehouse();

const WRITES = 2000;
const WRITERS = 16;

/** Pages from `after` until the list says there is no more; returns the events. */
async function drain(workos, after, options = {}) {
  const out = [];
  let cursor = after;
  for (;;) {
    const page = await workos.events.listEvents({ limit: 100, ...options, ...(cursor ? { after: cursor } : {}) });
    out.push(...page.data);
    if (page.data.length > 0) cursor = page.data[page.data.length - 1].id;
    if (!page.listMetadata.after) return { events: out, cursor };
  }
}

test('events: listEvents pages through concurrent writes without loss or repetition', async () => {
  const workos = confidentialClient(gh);
  const stamp = Date.now().toString(36);
  let next = 0;
  let writing = true;
  const writers = Array.from({ length: WRITERS }, async () => {
    while (next < WRITES) {
      const i = next++;
      await workos.userManagement.createUser({ email: `load-${stamp}-${i}@example.com` });
    }
  });
  const done = Promise.all(writers).finally(() => {
    writing = false;
  });

  // A consumer polls as an app would: from its last event, until the writers stop and a final
  // pass comes back empty.
  const seen = [];
  let cursor;
  for (;;) {
    const finished = !writing;
    const { events, cursor: c } = await drain(workos, cursor);
    seen.push(...events);
    cursor = c;
    if (finished && events.length === 0) break;
  }
  await done;

  const ids = seen.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no event listed twice');
  const created = seen.filter((e) => e.event === 'user.created' && e.data.email.startsWith(`load-${stamp}-`));
  assert.equal(created.length, WRITES, 'every write has its event');
  const full = (await drain(workos)).events.map((e) => e.id);
  assert.deepEqual(ids, full, 'the polling consumer saw exactly the log, in order');
});

test('events: payloads deserialise into the SDK types, and filters narrow the list', async () => {
  const workos = confidentialClient(gh);
  const start = new Date(Date.now() - 1000);
  const email = uniqueEmail('events');
  const user = await workos.userManagement.createUser({ email, password: STRONG_PASSWORD, firstName: 'Ada' });
  await workos.userManagement.authenticateWithPassword({ clientId: gh.clientId, email, password: STRONG_PASSWORD });
  await assert.rejects(
    workos.userManagement.authenticateWithPassword({ clientId: gh.clientId, email, password: 'not the password' }),
  );
  await workos.userManagement.updateUser({ userId: user.id, lastName: 'Lovelace' });
  await workos.userManagement.deleteUser(user.id);

  const mine = (await drain(workos, undefined, { rangeStart: start.toISOString() })).events.filter(
    (e) => e.data.userId === user.id || e.data.id === user.id,
  );
  assert.deepEqual(
    mine.map((e) => e.event),
    [
      'user.created',
      'authentication.password_succeeded',
      'session.created',
      'authentication.password_failed',
      'user.updated',
      'user.deleted',
    ],
  );
  const [created, succeeded, session, failed, updated] = mine;
  assert.equal(created.data.email, email);
  assert.equal(created.data.firstName, 'Ada');
  assert.ok(created.createdAt instanceof Date);
  assert.equal(succeeded.data.type, 'password');
  assert.equal(succeeded.data.status, 'succeeded');
  assert.equal(session.data.object, 'session');
  assert.equal(session.data.authMethod, 'password');
  assert.equal(failed.data.status, 'failed');
  assert.equal(updated.data.lastName, 'Lovelace');

  const onlyDeleted = await drain(workos, undefined, { events: ['user.deleted', 'session.revoked'] });
  assert.ok(onlyDeleted.events.length >= 1);
  assert.ok(onlyDeleted.events.every((e) => e.event === 'user.deleted' || e.event === 'session.revoked'));
  const before = await workos.events.listEvents({ rangeEnd: '2001-01-01T00:00:00Z' });
  assert.equal(before.data.length, 0);
  const org = await workos.events.listEvents({ organizationId: 'org_01H00000000000000000000000' });
  assert.equal(org.data.length, 0);
});

test('events: unknown types, bad dates and bad limits are 422', async () => {
  const workos = confidentialClient(gh);
  for (const options of [
    { events: ['user.exploded'] },
    { rangeStart: 'yesterday' },
    { limit: 0 },
    { after: 'event_01H00000000000000000000000' },
  ]) {
    await assert.rejects(workos.events.listEvents(options), (err) => {
      assert.equal(err.status, 422, JSON.stringify(options));
      return true;
    });
  }
});
