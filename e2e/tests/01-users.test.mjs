// Scenario 1 (spec §9): users CRUD and pagination through the official workos-node SDK.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundException } from '@workos-inc/node';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient, recordFetch, uniqueEmail, STRONG_PASSWORD } from '../lib/api.mjs';
import { sdkMajor } from '../lib/sdk.mjs';

const gh = useGatehouse();

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** A timestamp as the server sent it: @workos-inc/node ≤ 11 passes the string on, 12 turns it into a Date. */
const iso = (v) => (v instanceof Date ? v.toISOString() : v);
const USER_ID = /^user_[0-9A-HJKMNP-TV-Z]{26}$/;

function assertUserShape(u) {
  assert.equal(u.object, 'user');
  assert.match(u.id, USER_ID);
  assert.equal(typeof u.email, 'string');
  assert.equal(typeof u.emailVerified, 'boolean');
  for (const k of ['firstName', 'lastName', 'profilePictureUrl', 'lastSignInAt', 'externalId']) {
    assert.ok(k in u, `camelCase field ${k} missing`);
  }
  assert.equal(typeof u.metadata, 'object');
  assert.match(iso(u.createdAt), ISO_MS);
  assert.match(iso(u.updatedAt), ISO_MS);
  // Nothing snake_case must leak through: the SDK's deserializer copies known keys only,
  // so a snake_case key here would mean the server's field names are wrong.
  assert.ok(!('email_verified' in u) && !('created_at' in u));
}

test('users: create ×5, list with pagination, get, get by external id, update, delete', async (t) => {
  const workos = confidentialClient(gh);
  const stamp = Date.now().toString(36);
  const created = [];

  await t.test('createUser ×5 returns camelCase users', async () => {
    for (let i = 0; i < 5; i++) {
      const email = uniqueEmail(`crud${i}`);
      const u = await workos.userManagement.createUser({
        email,
        password: i === 0 ? STRONG_PASSWORD : undefined,
        firstName: `First${i}`,
        lastName: `Last${i}`,
        emailVerified: i % 2 === 0,
        externalId: `ext-${stamp}-${i}`,
        metadata: { index: String(i) },
      });
      assertUserShape(u);
      assert.equal(u.email, email);
      assert.equal(u.firstName, `First${i}`);
      assert.equal(u.lastName, `Last${i}`);
      assert.equal(u.emailVerified, i % 2 === 0);
      assert.equal(u.externalId, `ext-${stamp}-${i}`);
      assert.deepEqual(u.metadata, { index: String(i) });
      assert.equal(u.profilePictureUrl, null);
      assert.equal(u.lastSignInAt, null);
      created.push(u);
    }
    assert.equal(new Set(created.map((u) => u.id)).size, 5);
  });

  await t.test('listUsers({limit:2}) returns one page with list metadata', async () => {
    const page = await workos.userManagement.listUsers({ limit: 2 });
    assert.equal(page.object, 'list');
    assert.equal(page.data.length, 2);
    page.data.forEach(assertUserShape);
    assert.ok(page.listMetadata, 'listMetadata present');
    assert.ok(page.listMetadata.after, 'first page of 5 users with limit 2 must have an `after` cursor');
    // Default order is desc (newest first).
    assert.ok(iso(page.data[0].createdAt) >= iso(page.data[1].createdAt), 'default order must be desc by creation');
  });

  await t.test('walking pages by `after` visits every user once and ends with after=null', async () => {
    const seen = [];
    let after;
    for (let i = 0; i < 10; i++) {
      const page = await workos.userManagement.listUsers({ limit: 2, after });
      assert.ok(page.data.length <= 2);
      seen.push(...page.data.map((u) => u.id));
      after = page.listMetadata.after;
      if (!after) break;
    }
    assert.equal(after ?? null, null, 'last page must carry after: null');
    assert.deepEqual([...seen].sort(), created.map((u) => u.id).sort());
  });

  await t.test('autoPagination() terminates with all users', async () => {
    const rec = recordFetch({ limit: 20 });
    let all;
    let limited;
    try {
      const client = confidentialClient(gh); // constructed after installing the recorder
      all = await (await client.userManagement.listUsers()).autoPagination();
      // With an explicit limit the SDK returns just the first page (documented SDK behaviour).
      limited = await (await client.userManagement.listUsers({ limit: 2 })).autoPagination();
    } finally {
      rec.restore();
    }
    assert.deepEqual(all.map((u) => u.id).sort(), created.map((u) => u.id).sort());
    assert.equal(limited.length, 2);
    const listCalls = rec.calls.filter((c) => new URL(c.url).pathname === '/user_management/users');
    for (const c of listCalls) assert.equal(c.headers.get('authorization'), `Bearer ${gh.apiKey}`);
    const q = new URL(listCalls[0].url).searchParams;
    assert.equal(q.get('order'), 'desc', 'the SDK sends order=desc');
  });

  await t.test('listUsers({email}) filters', async () => {
    const target = created[3];
    const page = await workos.userManagement.listUsers({ email: target.email });
    assert.deepEqual(page.data.map((u) => u.id), [target.id]);
  });

  await t.test('listUsers({order:"asc"}) lists oldest first', async () => {
    const page = await workos.userManagement.listUsers({ order: 'asc', limit: 5 });
    assert.deepEqual(page.data.map((u) => u.id), created.map((u) => u.id));
  });

  await t.test('getUser and getUserByExternalId', async () => {
    const u = await workos.userManagement.getUser(created[1].id);
    assertUserShape(u);
    assert.deepEqual(u, created[1]);
    const byExt = await workos.userManagement.getUserByExternalId(created[2].externalId);
    assert.equal(byExt.id, created[2].id);
    assert.equal(byExt.email, created[2].email);
  });

  await t.test('updateUser (PUT) changes fields and bumps updatedAt', async () => {
    const before = created[1];
    await new Promise((r) => setTimeout(r, 5));
    const u = await workos.userManagement.updateUser({
      userId: before.id,
      firstName: 'Renamed',
      lastName: 'Person',
      emailVerified: true,
      metadata: { index: '1', tier: 'gold' },
    });
    assertUserShape(u);
    assert.equal(u.id, before.id);
    assert.equal(u.firstName, 'Renamed');
    assert.equal(u.lastName, 'Person');
    assert.equal(u.emailVerified, true);
    assert.deepEqual(u.metadata, { index: '1', tier: 'gold' });
    assert.equal(u.email, before.email, 'fields not sent must stay unchanged');
    assert.equal(u.externalId, before.externalId, 'fields not sent must stay unchanged');
    assert.ok(iso(u.updatedAt) > iso(before.updatedAt), `updatedAt must increase (${iso(before.updatedAt)} → ${iso(u.updatedAt)})`);
    assert.equal(iso(u.createdAt), iso(before.createdAt));
    const again = await workos.userManagement.getUser(before.id);
    assert.equal(again.firstName, 'Renamed');
    // A metadata value of null deletes that key (spec §3.9).
    const pruned = await workos.userManagement.updateUser({ userId: before.id, metadata: { tier: null } });
    assert.deepEqual(pruned.metadata, { index: '1' });
  });

  await t.test('deleteUser, then getUser → NotFoundException', async () => {
    const victim = created[4];
    await workos.userManagement.deleteUser(victim.id);
    await assert.rejects(workos.userManagement.getUser(victim.id), (e) => {
      assert.ok(e instanceof NotFoundException, `expected NotFoundException, got ${e?.name}: ${e?.message}`);
      assert.equal(e.status, 404);
      return true;
    });
    const all = await (await workos.userManagement.listUsers({ limit: 100 })).autoPagination();
    assert.equal(all.length, 4);
    assert.ok(!all.some((u) => u.id === victim.id));
  });

  await t.test('autoPagination() over more than one page of 100 (after cursor) terminates', async () => {
    const extra = [];
    for (let i = 0; i < 97; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, 97 - i) }, (_, j) =>
          workos.userManagement.createUser({ email: uniqueEmail(`bulk${i + j}`) }),
        ),
      );
      extra.push(...batch);
    }
    const full = await workos.userManagement.listUsers({ limit: 100 });
    assert.equal(full.data.length, 100, 'a page with limit=100 must hold 100 users when 101 exist');
    assert.ok(full.listMetadata.after, 'and it must carry an after cursor');
    const rec = recordFetch({ limit: 10 });
    let all;
    try {
      const client = confidentialClient(gh);
      all = await (await client.userManagement.listUsers()).autoPagination();
    } finally {
      rec.restore();
    }
    const ids = all.map((u) => u.id);
    assert.equal(new Set(ids).size, ids.length, 'no user may appear twice across pages');
    assert.equal(ids.length, 4 + extra.length);
    const pages = rec.calls.filter((c) => new URL(c.url).pathname === '/user_management/users');
    // @workos-inc/node ≤ 11 starts over with limit=100 (initial request + 2 pages); 12 goes on from the
    // first page's cursor (initial request + 1 page of the remaining 91).
    const expected = sdkMajor('@workos-inc/node') >= 12 ? 2 : 3;
    assert.equal(pages.length, expected, `initial request + ${expected - 1} auto-paginated page(s)`);
    assert.ok(new URL(pages.at(-1).url).searchParams.get('after'), 'the last page requested with after=');
  });
});
