// Runs the example against a running stack (WEBINAR_STACK_JSON, set by
// `cargo xtask clients-test`); skipped without one.
import assert from "node:assert/strict";
import { test } from "node:test";

import { call, connect, loadStack } from "../client.js";
import { main } from "../example.js";

const stackPath = process.env.WEBINAR_STACK_JSON;
const skip = stackPath ? false : "needs a running stack (WEBINAR_STACK_JSON)";

test("example puts credentials, creates a webinar, registers and reads metrics", { skip }, async () => {
  const result = await main(stackPath);
  assert.equal(result.registration_created, true);
  assert.ok(result.registration_count >= 1);
  assert.ok(result.registration.startsWith(`${result.webinar}/registrations/`));
});

test("a bad email is refused with INVALID_ARGUMENT naming the field", { skip }, async () => {
  const result = await main(stackPath);
  const c = connect(loadStack(stackPath));
  try {
    await assert.rejects(
      call(c.registrations, "CreateRegistration", {
        parent: result.webinar,
        registration: { email: "not-an-email", first_name: "A", last_name: "B" },
      }),
      (error) => {
        assert.equal(error.code, 3); // INVALID_ARGUMENT
        return true;
      },
    );
  } finally {
    c.close();
  }
});
