/** The example runs against the stack. */
import assert from "node:assert/strict";
import { it } from "node:test";

import { main } from "../src/example.js";
import { STACK, skip } from "../testkit/helpers.js";

it("the example puts credentials, creates, registers and reads metrics", { skip }, async () => {
  const result = await main(STACK);
  assert.equal(result.registrationCreated, true);
  assert.ok(result.registrationCount >= 1);
  assert.ok(result.registration.startsWith(`${result.webinar}/registrations/`));
  assert.ok(result.refusedFields.includes("registration.email"));
});
