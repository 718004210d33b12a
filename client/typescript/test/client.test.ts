/** The client against the stack: calls, pages, idempotent creates and errors. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { Code, WebinarClient, WebinarError } from "../src/index.js";
import { STACK, demoCredentials, newWebinar, person, run, skip, stack } from "../testkit/helpers.js";

describe("WebinarClient", { skip }, () => {
  let client: WebinarClient;
  before(async () => {
    client = WebinarClient.fromStack(STACK, { timeoutMs: 15_000 });
    await client.putOn24Credentials(demoCredentials(stack()));
  });

  it("creates, registers and pages through registrations", async () => {
    const id = run();
    const webinar = await client.createWebinar(newWebinar(id));
    assert.ok(webinar.name.startsWith(`${client.parent}/webinars/`));
    const created = [];
    for (let n = 0; n < 5; n++) created.push(await client.createRegistration(webinar.name, person(id, n)));
    assert.ok(created.every((r) => r.created));
    const listed = [];
    for await (const r of client.listRegistrations(webinar.name, "", 2)) listed.push(r.name);
    assert.deepEqual(listed, created.map((r) => r.registration?.name));
    assert.equal((await client.getWebinar(webinar.name.split("/").at(-1) ?? "")).name, webinar.name);
    assert.equal((await client.getWebinarMetrics(webinar.name)).registrationCount, 5n);
  });

  it("creates once for a retried request id", async () => {
    const id = run();
    const webinar = await client.createWebinar(newWebinar(id));
    const requestId = randomUUID();
    const first = await client.createRegistration(webinar.name, person(id), requestId);
    const again = await client.createRegistration(webinar.name, person(id), requestId);
    assert.ok(first.created && !again.created);
    assert.equal(again.registration?.name, first.registration?.name);
  });

  it("throws field violations for invalid fields", async () => {
    const webinar = await client.createWebinar(newWebinar(run()));
    await assert.rejects(
      client.createRegistration(webinar.name, { email: "not-an-email", firstName: "A", lastName: "B" }),
      (error: unknown) => {
        assert.ok(error instanceof WebinarError);
        assert.equal(error.code, Code.InvalidArgument);
        assert.ok(error.violation("registration.email")?.description, JSON.stringify(error.fieldViolations));
        return true;
      },
    );
  });

  it("throws the reason for another tenant", async () => {
    const other = WebinarClient.fromStack(STACK, { tenant: "someone-else" });
    await assert.rejects(other.getOn24Credentials(), (error: unknown) => {
      assert.ok(error instanceof WebinarError);
      assert.equal(error.code, Code.PermissionDenied);
      assert.equal(error.reason, "TENANT_MISMATCH");
      return true;
    });
  });

  it("applies the deadline to each call", async () => {
    const hasty = WebinarClient.fromStack(STACK, { timeoutMs: 1 });
    await assert.rejects(hasty.getOn24Credentials(), (error: unknown) => {
      assert.ok(error instanceof WebinarError);
      assert.equal(error.code, Code.DeadlineExceeded);
      return true;
    });
  });

  after(() => undefined);
});
