// Example: put the demo ON24 credentials, create a webinar, register an attendee and read the
// metrics, over mTLS, from the .proto files alone. Prints one JSON object; throws if anything
// is off.
//
//   cargo xtask up                       # another terminal
//   node client/node/example.js         # reads .state/stack.json
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

import { call, connect, loadStack } from "./client.js";

export async function main(stackPath) {
  const stack = loadStack(stackPath);
  const c = connect(stack);
  const demo = stack.demo.on24;
  try {
    const put = await call(c.credentials, "PutOn24Credentials", {
      on24_credentials: {
        name: `${c.parent}/on24Credentials`,
        client_id: demo.client_id,
        access_token_key: demo.access_token_key,
        access_token_secret: demo.access_token_secret,
        base_url: demo.base_url,
      },
    });
    const run = randomUUID().slice(0, 12);
    const { webinar } = await call(c.webinars, "CreateWebinar", {
      parent: c.parent,
      webinar: {
        crm_reference_id: `node-example-${run}`,
        title: "Node example webinar",
        start_time: { seconds: String(Math.floor(Date.now() / 1000) + 7 * 24 * 3600), nanos: 0 },
        duration_minutes: 45,
        time_zone: "America/New_York",
      },
      request_id: randomUUID(),
    });
    const created = await call(c.registrations, "CreateRegistration", {
      parent: webinar.name,
      registration: { email: `grace-${run}@example.com`, first_name: "Grace", last_name: "Hopper" },
      request_id: randomUUID(),
    });
    const { webinar_metrics: metrics } = await call(c.metrics, "GetWebinarMetrics", {
      name: `${webinar.name}/metrics`,
    });
    const result = {
      credentials_key_last_four: put.on24_credentials.access_token_key_last_four,
      webinar: webinar.name,
      registration: created.registration.name,
      registration_created: created.created,
      registration_status: created.registration.status,
      registration_count: Number(metrics.registration_count),
    };
    if (result.credentials_key_last_four !== demo.access_token_key.slice(-4)) throw new Error(JSON.stringify(result));
    if (!result.registration_created || result.registration_count < 1) throw new Error(JSON.stringify(result));
    return result;
  } finally {
    c.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv[2]).then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
