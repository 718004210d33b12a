// The published npm client `node-on24` against the simulator binary: event listing,
// registration create / update / soft delete / forget. Start: ON24SIM_BIN=/path/to/on24sim node --test
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const On24 = require('node-on24').default;

const CLIENT_ID = 22950;
const TOKEN_KEY = 'NODEKEY0000000000000000000000001';
const TOKEN_SECRET = 'node-secret-000000000000000000000000000000000000';

let sim;
let root;
let on24;

before(async () => {
  const bin = process.env.ON24SIM_BIN;
  assert.ok(bin, 'set ON24SIM_BIN to the built on24sim binary');
  sim = spawn(bin, ['--listen', '127.0.0.1:0', '--client-id', String(CLIENT_ID), '--token-key', TOKEN_KEY, '--token-secret', TOKEN_SECRET], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The first stdout line is "on24sim listening on http://127.0.0.1:PORT".
  root = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('on24sim did not start')), 10000);
    sim.once('exit', (code) => reject(new Error(`on24sim exited with ${code}`)));
    readline.createInterface({ input: sim.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve(line.trim().split(' ').pop());
    });
  });
  on24 = new On24({ clientId: CLIENT_ID, tokenKey: TOKEN_KEY, tokenSecret: TOKEN_SECRET, baseUrl: root });
});

after(() => {
  if (sim) sim.kill('SIGTERM');
});

// node-on24 has no event creation; create webinars the way ON24 documents it.
async function createEvent(liveStart) {
  const res = await fetch(`${root}/v2/client/${CLIENT_ID}/event`, {
    method: 'POST',
    headers: { accessTokenKey: TOKEN_KEY, accessTokenSecret: TOKEN_SECRET },
    body: new URLSearchParams({ liveStart, liveDuration: '60', title: 'node-on24 test' }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).wccevent.eventId;
}

test('lists events', async () => {
  const id = await createEvent('2099-05-01T10:00:00');
  const page = await on24.analytics.listEvents({ itemsPerPage: 100, pageOffset: 0 });
  assert.ok(page.totalevents >= 1);
  assert.ok(page.events.some((e) => e.eventid === id));
});

test('registration create, update, soft delete and forget', async () => {
  const eventId = await createEvent('2099-05-02T10:00:00');
  const created = await on24.registration.createRegistrant(eventId, { email: 'node@example.com', firstName: 'Node', lastName: 'Client', company: 'ACME' });
  assert.equal(typeof created.eventuserid, 'number');
  assert.equal(created.firstname, 'Node');

  // Upsert: the same email again keeps the registration.
  const again = await on24.registration.createRegistrant(eventId, { email: 'node@example.com', jobTitle: 'Dev' });
  assert.equal(again.eventuserid, created.eventuserid);

  const updated = await on24.registration.updateRegistrant('node@example.com', { company: 'NewCo' });
  assert.deepEqual(updated.updatedregistrants, [created.eventuserid]);
  const listed = await on24.analytics.listEventRegistrants(eventId, {});
  assert.equal(listed.totalregistrants, 1);
  assert.equal(listed.registrants[0].company, 'NewCo');

  await on24.registration.softDeleteRegistrant(eventId, 'node@example.com');
  assert.equal((await on24.analytics.listEventRegistrants(eventId, {})).totalregistrants, 0);
  const deleted = await on24.analytics.listEventRegistrants(eventId, { userStatus: 'deleted' });
  assert.equal(deleted.registrants[0].userstatus, 'deleted');

  const forgotten = await on24.registration.forgetRegistrant('node@example.com', eventId);
  assert.deepEqual(forgotten.deletedregistrants.eventuserids, [created.eventuserid]);
  const after = await on24.analytics.listEventRegistrants(eventId, { userStatus: 'forgotten' });
  assert.equal(after.registrants[0].email, `${created.eventuserid}-deleted`);
  assert.equal(after.registrants[0].firstname, 'deleted');
});

test('errors surface as ApiError with ON24 message', async () => {
  const eventId = await createEvent('2020-01-01T10:00:00');
  await on24.registration.createRegistrant(eventId, { email: 'started@example.com' });
  await assert.rejects(on24.registration.softDeleteRegistrant(eventId, 'started@example.com'), (e) => {
    assert.equal(e.response.statusCode, 400);
    assert.match(e.message, /not allowed after the event has started/);
    return true;
  });
  const wrong = new On24({ clientId: CLIENT_ID, tokenKey: TOKEN_KEY, tokenSecret: 'wrong', baseUrl: root });
  await assert.rejects(wrong.analytics.listEvents({}), (e) => e.response.statusCode === 401);
});
