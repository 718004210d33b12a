/**
 * Typed TypeScript client of the webinar integration service (`webinar.v1`).
 *
 * ```ts
 * const client = WebinarClient.fromStack();                 // a local `cargo xtask up`
 * const webinar = await client.createWebinar({ title: "Launch", ... });
 * for await (const r of client.listRegistrations(webinar.name)) { ... }
 * for await (const change of client.watchChanges()) { ... } // resumes after disconnects
 * ```
 *
 * The generated messages are re-exported (`webinar`, `keyservice` namespaces and
 * `webinar-client/gen/...` paths); errors are `WebinarError` with field violations and reason.
 */
export { ChangeFeed, type ClientOptions, WebinarClient } from "./client.js";
export { Code, type FieldViolation, WebinarError, toWebinarError } from "./errors.js";
export { DEFAULT_RETRY, type RetryPolicy, withRetries } from "./retry.js";
export {
  type ConnectOptions,
  type StackFile,
  createTransport,
  defaultStackPath,
  loadStack,
  optionsFromFiles,
  optionsFromStack,
} from "./stack.js";
export * as metrics from "./gen/webinar/v1/metrics_pb.js";
export * as providerConfig from "./gen/webinar/v1/provider_config_pb.js";
export * as registration from "./gen/webinar/v1/registration_pb.js";
export * as webinar from "./gen/webinar/v1/webinar_pb.js";
export * as errors from "./gen/webinar/v1/errors_pb.js";
