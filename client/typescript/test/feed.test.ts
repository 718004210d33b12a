/** The change feed keeps going across a restart of the integration service on the same
 * database: it reconnects, resumes from its cursor, and neither misses nor repeats a change. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Code, WebinarClient, WebinarError } from "../src/index.js";
import type { Change } from "../src/gen/webinar/v1/metrics_pb.js";
import { PrivateService, demoCredentials, newWebinar, person, run, skip, stack } from "../testkit/helpers.js";

const PATIENT = { maxAttempts: 60, initialBackoffMs: 100, maxBackoffMs: 1_000 };

describe("ChangeFeed", { skip }, () => {
  it("resumes after a restart", { timeout: 120_000 }, async () => {
    const s = stack();
    const service = await PrivateService.create(s);
    await service.start();
    try {
      const client = WebinarClient.connect(service.connection(), s.demo.tenant, { timeoutMs: 15_000, retry: PATIENT });
      const id = run();
      await assert.rejects(client.createWebinar(newWebinar(id)), (error: unknown) => {
        assert.ok(error instanceof WebinarError);
        assert.equal(error.code, Code.FailedPrecondition);
        assert.equal(error.reason, "INTEGRATION_DISABLED");
        return true;
      });
      await client.putOn24Credentials(demoCredentials(s));
      const webinar = await client.createWebinar(newWebinar(id));

      const feed = client.watchChanges();
      const iterator = feed[Symbol.asyncIterator]();
      const seen: Change[] = [];
      const until = async (resource: string) => {
        for (;;) {
          const next = await iterator.next();
          assert.ok(!next.done, "the feed ended");
          seen.push(next.value);
          if (next.value.resource === resource) return;
        }
      };
      await until(webinar.name);

      await service.stop();
      await service.start();
      const registered = (await client.createRegistration(webinar.name, person(id))).registration;
      assert.ok(registered);
      await until(registered.name);
      feed.close();
      assert.equal((await iterator.next()).done, true);

      const cursors = seen.map((c) => c.cursor);
      assert.equal(new Set(cursors).size, cursors.length, "a change was repeated");
      const recorded = (await client.listChanges()).changes.map((c) => c.cursor);
      assert.deepEqual(cursors, recorded.slice(0, cursors.length), "a change was missed");
    } finally {
      service.kill();
    }
  });
});
