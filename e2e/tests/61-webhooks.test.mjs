// Issue 10: webhooks through the node SDK. Endpoints are managed with `workos.webhooks.*`;
// deliveries to a real local HTTP receiver pass `workos.webhooks.constructEvent` (and a
// tampered body or an old timestamp does not); a receiver that fails, then recovers, gets
// everything in log order. The server allows private addresses (the receiver is on 127.0.0.1).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse } from '../lib/server.mjs';
import { confidentialClient } from '../lib/api.mjs';
import { startReceiver, until } from '../lib/webhooks.mjs';

const gh = useGatehouse({ serveArgs: ['--webhooks-allow-private'] });

const receivers = [];
after(() => receivers.forEach((r) => r.close()));

test('webhooks: endpoints through the SDK; signed deliveries pass constructEvent', async () => {
  const workos = confidentialClient(gh);
  const receiver = await startReceiver();
  receivers.push(receiver);
  const endpoint = await workos.webhooks.createWebhookEndpoint({
    endpointUrl: receiver.url,
    events: ['user.created', 'user.deleted'],
  });
  assert.match(endpoint.id, /^we_/);
  assert.match(endpoint.secret, /^whsec_/);
  assert.equal(endpoint.status, 'enabled');
  assert.deepEqual(endpoint.events, ['user.created', 'user.deleted']);

  const listed = await workos.webhooks.listWebhookEndpoints();
  assert.ok(listed.data.some((e) => e.id === endpoint.id && e.secret === endpoint.secret));

  const user = await workos.userManagement.createUser({ email: `hook-${Date.now()}@example.com` });
  await workos.userManagement.deleteUser(user.id);
  await until('two deliveries', () => receiver.got.length >= 2);

  const [created, deleted] = await Promise.all(
    receiver.got.slice(0, 2).map((d) =>
      workos.webhooks.constructEvent({ payload: d.body, sigHeader: d.signature, secret: endpoint.secret }),
    ),
  );
  assert.equal(created.event, 'user.created');
  assert.equal(created.data.id, user.id);
  assert.equal(created.data.email, user.email);
  assert.match(created.id, /^event_/);
  assert.equal(deleted.event, 'user.deleted');
  await workos.webhooks.verifyHeader({
    payload: receiver.got[0].body,
    sigHeader: receiver.got[0].signature,
    secret: endpoint.secret,
  });

  // A tampered body, another secret, an old timestamp: refused.
  const d = receiver.got[0];
  await assert.rejects(
    workos.webhooks.constructEvent({ payload: d.body.replace(user.id, 'user_01H00000000000000000000000'), sigHeader: d.signature, secret: endpoint.secret }),
    /Signature hash does not match/,
  );
  await assert.rejects(
    workos.webhooks.constructEvent({ payload: d.body, sigHeader: d.signature, secret: 'whsec_wrong' }),
    /Signature hash does not match/,
  );
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(
    workos.webhooks.constructEvent({ payload: d.body, sigHeader: d.signature, secret: endpoint.secret, tolerance: 10 }),
    /Timestamp outside the tolerance zone/,
  );

  const updated = await workos.webhooks.updateWebhookEndpoint({ id: endpoint.id, events: ['user.updated'], status: 'disabled' });
  assert.equal(updated.status, 'disabled');
  assert.deepEqual(updated.events, ['user.updated']);
  await workos.webhooks.deleteWebhookEndpoint({ id: endpoint.id });
  const after = await workos.webhooks.listWebhookEndpoints();
  assert.ok(!after.data.some((e) => e.id === endpoint.id));
});

test('webhooks: a receiver that fails, then recovers, gets every event in order', async () => {
  const workos = confidentialClient(gh);
  const receiver = await startReceiver();
  receivers.push(receiver);
  receiver.state.failures = 1;
  const endpoint = await workos.webhooks.createWebhookEndpoint({ endpointUrl: receiver.url, events: ['user.created'] });
  const emails = [];
  for (let i = 0; i < 5; i++) {
    const email = `order-${Date.now()}-${i}@example.com`;
    emails.push(email);
    await workos.userManagement.createUser({ email });
  }
  // The first attempt fails; the retry comes after the 10 s backoff and the rest follow it.
  await until('five deliveries after the retry', () => receiver.got.length >= 5, 40_000);
  assert.ok(receiver.state.attempts >= 6, 'the failed attempt was retried');
  const events = await Promise.all(
    receiver.got.map((d) => workos.webhooks.constructEvent({ payload: d.body, sigHeader: d.signature, secret: endpoint.secret })),
  );
  assert.deepEqual(
    events.map((e) => e.data.email),
    emails,
  );
  await workos.webhooks.deleteWebhookEndpoint({ id: endpoint.id });
});

test('webhooks: unknown event types and malformed URLs are 422', async () => {
  const workos = confidentialClient(gh);
  await assert.rejects(
    workos.webhooks.createWebhookEndpoint({ endpointUrl: 'http://127.0.0.1:9/hook', events: ['user.exploded'] }),
    (err) => err.status === 422,
  );
  await assert.rejects(
    workos.webhooks.createWebhookEndpoint({ endpointUrl: 'not a url', events: ['user.created'] }),
    (err) => err.status === 422 && err.code === 'invalid_url',
  );
  await assert.rejects(workos.webhooks.deleteWebhookEndpoint({ id: 'we_01H00000000000000000000000' }), (err) => err.status === 404);
});
