/**
 * Example: call the webinar integration service from TypeScript. Reads a local stack's
 * stack.json (argument, WEBINAR_STACK_JSON, or .state/stack.json), puts the demo ON24
 * credentials, creates a webinar, registers an attendee and reads the metrics; prints JSON.
 *
 *     cargo xtask up                   # in another terminal
 *     npm run example -- ../../.state/stack.json
 */
import { randomBytes } from "node:crypto";

import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import { RegistrationStatus } from "./gen/webinar/v1/registration_pb.js";
import { WebinarClient, WebinarError, loadStack } from "./index.js";

export async function main(stackPath?: string) {
  const demo = loadStack(stackPath).demo.on24;
  const client = WebinarClient.fromStack(stackPath, { timeoutMs: 15_000 });
  const credentials = await client.putOn24Credentials({
    clientId: demo.client_id,
    accessTokenKey: demo.access_token_key,
    accessTokenSecret: demo.access_token_secret,
    baseUrl: demo.base_url,
  });
  const id = randomBytes(6).toString("hex");
  const webinar = await client.createWebinar({
    crmReferenceId: `ts-example-${id}`,
    title: "TypeScript example webinar",
    startTime: timestampFromMs(Date.now() + 7 * 24 * 3600 * 1000),
    durationMinutes: 60,
    timeZone: "Europe/Paris",
  });
  const created = await client.createRegistration(webinar.name, {
    email: `ada-${id}@example.com`,
    firstName: "Ada",
    lastName: "Lovelace",
  });
  let refusedFields: string[] = [];
  try {
    await client.createRegistration(webinar.name, { email: "not an email" });
  } catch (error) {
    if (!(error instanceof WebinarError)) throw error;
    refusedFields = error.fieldViolations.map((v) => v.field).sort();
  }
  const metrics = await client.getWebinarMetrics(webinar.name);
  return {
    credentialsKeyLastFour: credentials.accessTokenKeyLastFour,
    webinar: webinar.name,
    registration: created.registration?.name ?? "",
    registrationCreated: created.created,
    registrationStatus: RegistrationStatus[created.registration?.status ?? 0],
    refusedFields,
    registrationCount: Number(metrics.registrationCount),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await main(process.argv[2]), null, 2));
}
