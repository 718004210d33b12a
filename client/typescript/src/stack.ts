/**
 * Where and how to connect: a local stack's `stack.json` (written by `cargo xtask up`) or an
 * endpoint with mTLS files and/or a bearer token, turned into a Connect gRPC transport over
 * Node's HTTP/2.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/** The parts of `stack.json` (schema version 1) the client reads. */
export interface StackFile {
  version: number;
  state_dir: string;
  ca_cert: string;
  integrationservice: { endpoint: string; health: string; server_name: string };
  identities: Record<string, { uri: string; cert: string; key: string }>;
  demo: {
    tenant: string;
    identity: string;
    on24: { client_id: string; access_token_key: string; access_token_secret: string; base_url: string };
  };
}

/** `WEBINAR_STACK_JSON`, else `.state/stack.json` under the current directory. */
export function defaultStackPath(): string {
  return process.env["WEBINAR_STACK_JSON"] ?? join(".state", "stack.json");
}

/** Reads a `stack.json`. */
export function loadStack(path?: string): StackFile {
  return JSON.parse(readFileSync(path ?? defaultStackPath(), "utf8")) as StackFile;
}

/** How to reach the service. Keys and tokens are PEM/strings held in memory only. */
export interface ConnectOptions {
  /** `https://host:port`. */
  endpoint: string;
  /** PEM of the CA that signs the server; absent means Node's default roots. */
  ca?: string | Buffer;
  /** Client certificate chain and key (PEM) for mTLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** A JWT sent as `authorization: Bearer ...` on every call. */
  bearerToken?: string;
  /** Name to check the server certificate against, when it differs from the endpoint host. */
  serverName?: string;
}

/** Connection options for the integration service of a local stack, as `identity`. */
export function optionsFromStack(path?: string, identity?: string): ConnectOptions {
  const stack = loadStack(path);
  const id = stack.identities[identity ?? stack.demo.identity];
  if (id === undefined) throw new Error(`stack.json has no identity ${identity ?? stack.demo.identity}`);
  return {
    endpoint: stack.integrationservice.endpoint,
    ca: readFileSync(stack.ca_cert),
    cert: readFileSync(id.cert),
    key: readFileSync(id.key),
    serverName: stack.integrationservice.server_name,
  };
}

/** Connection options from PEM files on disk (all optional but the endpoint). */
export function optionsFromFiles(
  endpoint: string,
  files: { ca?: string; cert?: string; key?: string; bearerToken?: string; serverName?: string },
): ConnectOptions {
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new Error("cert and key go together");
  }
  const options: ConnectOptions = { endpoint };
  if (files.ca !== undefined) options.ca = readFileSync(files.ca);
  if (files.cert !== undefined) options.cert = readFileSync(files.cert);
  if (files.key !== undefined) options.key = readFileSync(files.key);
  if (files.bearerToken !== undefined) options.bearerToken = files.bearerToken;
  if (files.serverName !== undefined) options.serverName = files.serverName;
  return options;
}

/** A gRPC transport (HTTP/2, TLS, optional client certificate and bearer token). */
export function createTransport(options: ConnectOptions): Transport {
  const interceptors: Interceptor[] = [];
  const token = options.bearerToken;
  if (token !== undefined) {
    interceptors.push((next) => (request) => {
      request.header.set("authorization", `Bearer ${token}`);
      return next(request);
    });
  }
  const tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; servername?: string } = {};
  if (options.ca !== undefined) tls.ca = options.ca;
  if (options.cert !== undefined) tls.cert = options.cert;
  if (options.key !== undefined) tls.key = options.key;
  if (options.serverName !== undefined) tls.servername = options.serverName;
  return createGrpcTransport({
    baseUrl: options.endpoint,
    nodeOptions: tls,
    interceptors,
    // Notice a dead connection (e.g. a restarted server) within seconds.
    pingIntervalMs: 10_000,
    pingTimeoutMs: 5_000,
  });
}
