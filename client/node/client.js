// The webinar integration service from Node: loads the repository's .proto files at run time
// with @grpc/proto-loader (no code generation) and builds mTLS clients from a local stack's
// stack.json (written by `cargo xtask up`).
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const here = dirname(fileURLToPath(import.meta.url));

/** The folder holding webinar/v1 and keyservice/v1 (override with WEBINAR_PROTO_DIR). */
export const protoDir = process.env.WEBINAR_PROTO_DIR ?? resolve(here, "..", "..", "proto");

/** stack.json: the argument, WEBINAR_STACK_JSON, or .state/stack.json of the repository. */
export function loadStack(path) {
  const file = path ?? process.env.WEBINAR_STACK_JSON ?? resolve(here, "..", "..", ".state", "stack.json");
  return JSON.parse(readFileSync(file, "utf8"));
}

/** The `webinar.v1` package object with its service constructors. */
export function loadWebinarPackage() {
  const files = ["provider_config", "webinar", "registration", "metrics", "errors"].map((f) =>
    join("webinar", "v1", `${f}.proto`),
  );
  const definition = protoLoader.loadSync(files, {
    includeDirs: [protoDir],
    keepCase: true, // field names exactly as in the .proto files
    longs: String, // int64 as strings: no precision loss
    enums: String, // enum values by name
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).webinar.v1;
}

/** mTLS clients of the four services for the demo tenant (or `identity`). */
export function connect(stack, identity) {
  const id = stack.identities[identity ?? stack.demo.identity];
  const credentials = grpc.credentials.createSsl(
    readFileSync(stack.ca_cert),
    readFileSync(id.key),
    readFileSync(id.cert),
  );
  const target = stack.integrationservice.endpoint.replace(/^https:\/\//, "");
  // The development certificates are issued for `localhost`; we dial 127.0.0.1.
  const options = { "grpc.ssl_target_name_override": stack.integrationservice.server_name };
  const pkg = loadWebinarPackage();
  const make = (Service) => new Service(target, credentials, options);
  return {
    tenant: stack.demo.tenant,
    parent: `tenants/${stack.demo.tenant}`,
    credentials: make(pkg.ProviderConfigService),
    webinars: make(pkg.WebinarService),
    registrations: make(pkg.RegistrationService),
    metrics: make(pkg.MetricsService),
    close() {
      for (const c of [this.credentials, this.webinars, this.registrations, this.metrics]) c.close();
    },
  };
}

/** Promise form of a unary call with a deadline in seconds. */
export function call(client, method, request, seconds = 15) {
  return new Promise((resolvePromise, reject) => {
    const deadline = new Date(Date.now() + seconds * 1000);
    client[method](request, { deadline }, (error, response) =>
      error ? reject(error) : resolvePromise(response),
    );
  });
}
