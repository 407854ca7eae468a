// Issue 12: organization domains through the node SDK — domainData on createOrganization and
// updateOrganization, organizationDomains.create / get / verify / delete, DNS TXT verification
// against a local DNS server (lib/dns.mjs, passed as --dns-server), and the failure paths: a
// missing or wrong TXT record, a domain verified in another organization, malformed input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useGatehouse } from '../lib/server.mjs';
import { startDnsServer } from '../lib/dns.mjs';
import { apiRequest, confidentialClient } from '../lib/api.mjs';

const dns = await startDnsServer();
const gh = useGatehouse({ serveArgs: dns.serveArgs });
const stamp = Date.now().toString(36);
const txtName = (d) => `${d.verificationPrefix}.${d.domain}`;

test('domains: create with domainData, add, verify by DNS TXT, delete', async () => {
  const workos = confidentialClient(gh);
  const org = await workos.organizations.createOrganization({
    name: `Domains ${stamp}`,
    domainData: [
      { domain: `verified-${stamp}.example`, state: 'verified' },
      { domain: `pending-${stamp}.example`, state: 'pending' },
    ],
  });
  assert.equal(org.domains.length, 2);
  const [pending, manual] = org.domains; // by name
  assert.equal(manual.object, 'organization_domain');
  assert.equal(manual.state, 'verified');
  assert.equal(manual.verificationStrategy, 'manual');
  assert.equal(pending.state, 'pending');
  assert.equal(pending.verificationStrategy, 'dns');
  assert.match(pending.verificationPrefix, /^gatehouse-domain-verification-[0-9a-z]+$/);
  assert.ok(pending.verificationToken.length >= 20);

  const added = await workos.organizationDomains.createOrganizationDomain({
    organizationId: org.id,
    domain: `Added-${stamp}.Example`,
  });
  assert.match(added.id, /^org_domain_/);
  assert.equal(added.domain, `added-${stamp}.example`);
  assert.equal(added.organizationId, org.id);
  assert.equal(added.state, 'pending');
  const got = await workos.organizationDomains.getOrganizationDomain(added.id);
  assert.equal(got.verificationToken, added.verificationToken);

  // No record: failed. A record without the token: failed. The token: verified.
  const missing = await workos.organizationDomains.verifyOrganizationDomain(added.id);
  assert.equal(missing.state, 'failed');
  const raw = await apiRequest(gh, 'GET', `/organization_domains/${added.id}`);
  assert.match(raw.body.verification_failure_reason, /^No TXT record found at gatehouse-domain-verification-/);
  dns.setTxt(txtName(added), ['v=spf1 -all']);
  const wrong = await workos.organizationDomains.verifyOrganizationDomain(added.id);
  assert.equal(wrong.state, 'failed');
  dns.setTxt(txtName(added), ['v=spf1 -all', added.verificationToken]);
  const verified = await workos.organizationDomains.verifyOrganizationDomain(added.id);
  assert.equal(verified.state, 'verified');
  assert.equal(verified.verificationStrategy, 'dns');
  await assert.rejects(workos.organizationDomains.verifyOrganizationDomain(added.id), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.code, 'domain_already_verified');
    return true;
  });

  const now = await workos.organizations.getOrganization(org.id);
  assert.deepEqual(
    now.domains.map((d) => [d.domain, d.state]),
    [
      [`added-${stamp}.example`, 'verified'],
      [`pending-${stamp}.example`, 'pending'],
      [`verified-${stamp}.example`, 'verified'],
    ],
  );

  // updateOrganization's domainData replaces the list.
  const updated = await workos.organizations.updateOrganization({
    organization: org.id,
    domainData: [{ domain: `pending-${stamp}.example`, state: 'verified' }],
  });
  assert.deepEqual(
    updated.domains.map((d) => [d.domain, d.state]),
    [[`pending-${stamp}.example`, 'verified']],
  );

  await workos.organizationDomains.deleteOrganizationDomain(updated.domains[0].id);
  await assert.rejects(workos.organizationDomains.getOrganizationDomain(updated.domains[0].id), (err) => {
    assert.equal(err.status, 404);
    return true;
  });
  assert.deepEqual((await workos.organizations.getOrganization(org.id)).domains, []);
});

test('domains: one organization per verified domain; duplicates and bad input are clear 4xx', async () => {
  const workos = confidentialClient(gh);
  const domain = `owned-${stamp}.example`;
  const owner = await workos.organizations.createOrganization({
    name: `Owner ${stamp}`,
    domainData: [{ domain, state: 'verified' }],
  });
  await assert.rejects(
    workos.organizations.createOrganization({ name: `Thief ${stamp}`, domainData: [{ domain, state: 'verified' }] }),
    (err) => {
      assert.equal(err.status, 409);
      assert.equal(err.code, 'domain_verified_by_other_organization');
      return true;
    },
  );
  const other = await workos.organizations.createOrganization({ name: `Other ${stamp}` });
  const claim = await workos.organizationDomains.createOrganizationDomain({ organizationId: other.id, domain });
  dns.setTxt(txtName(claim), [claim.verificationToken]);
  const refused = await workos.organizationDomains.verifyOrganizationDomain(claim.id);
  assert.equal(refused.state, 'failed');

  await assert.rejects(
    workos.organizationDomains.createOrganizationDomain({ organizationId: owner.id, domain }),
    (err) => {
      assert.equal(err.status, 409);
      assert.equal(err.code, 'domain_already_exists');
      return true;
    },
  );
  for (const bad of ['not a domain', 'localhost', '192.168.1.1', '-x.example', '']) {
    await assert.rejects(
      workos.organizationDomains.createOrganizationDomain({ organizationId: owner.id, domain: bad }),
      (err) => {
        assert.equal(err.status, 422, bad);
        return true;
      },
    );
  }
  await assert.rejects(
    workos.organizationDomains.createOrganizationDomain({ organizationId: 'org_nope', domain: 'x.example' }),
    (err) => {
      assert.equal(err.status, 404);
      return true;
    },
  );
  for (const id of ['nope', 'org_domain_01H00000000000000000000000']) {
    await assert.rejects(workos.organizationDomains.verifyOrganizationDomain(id), (err) => {
      assert.equal(err.status, 404);
      return true;
    });
  }
  const badBody = await apiRequest(gh, 'POST', '/organizations', { name: 'X', domain_data: [{ domain: 'x.example', state: 'maybe' }] });
  assert.equal(badBody.status, 422);
});
