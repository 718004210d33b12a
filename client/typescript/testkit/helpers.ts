/**
 * Shared by the tests against a real stack (`cargo xtask clients-test` sets WEBINAR_STACK_JSON
 * and WEBINAR_INTEGRATIONSERVICE_BIN): fixtures and a private integration service that a
 * test may stop and restart on the same database.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import { type ConnectOptions, type StackFile, loadStack, optionsFromStack } from "../src/index.js";
import type { WebinarSchema } from "../src/gen/webinar/v1/webinar_pb.js";

export const STACK = process.env["WEBINAR_STACK_JSON"];
export const skip = STACK === undefined ? "needs a running stack (WEBINAR_STACK_JSON)" : false;

export function stack(): StackFile {
  return loadStack(STACK);
}

export function run(): string {
  return randomBytes(5).toString("hex");
}

export function demoCredentials(s: StackFile) {
  const demo = s.demo.on24;
  return {
    clientId: demo.client_id,
    accessTokenKey: demo.access_token_key,
    accessTokenSecret: demo.access_token_secret,
    baseUrl: demo.base_url,
  };
}

export function newWebinar(id: string): MessageInitShape<typeof WebinarSchema> {
  return {
    crmReferenceId: `ts-${id}`,
    title: "TypeScript client test",
    startTime: timestampFromMs(Date.now() + 7 * 24 * 3600 * 1000),
    durationMinutes: 60,
    timeZone: "Europe/Paris",
  };
}

export function person(id: string, n = 0) {
  return { email: `ada-${id}-${n}@example.com`, firstName: "Ada", lastName: "Lovelace" };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Our own integration service: the stack's configuration, key service and simulator, with
 * its own ports and SQLite file. */
export class PrivateService {
  process: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly config: string,
    private readonly log: number,
  ) {}

  static async create(s: StackFile): Promise<PrivateService> {
    const dir = mkdtempSync(join(tmpdir(), "ts-client-"));
    const port = await freePort();
    const env = {
      ...process.env,
      INTEGRATIONSERVICE_LISTEN__GRPC: `127.0.0.1:${port}`,
      INTEGRATIONSERVICE_LISTEN__HEALTH: `127.0.0.1:${await freePort()}`,
      INTEGRATIONSERVICE_DATABASE__URL: join(dir, "integrationservice.sqlite"),
    };
    const config = join(s.state_dir, "integrationservice", "integrationservice.toml");
    return new PrivateService(port, env, config, openSync(join(dir, "integrationservice.log"), "a"));
  }

  connection(): ConnectOptions {
    return { ...optionsFromStack(STACK), endpoint: `https://127.0.0.1:${this.port}` };
  }

  async start(): Promise<void> {
    const bin = process.env["WEBINAR_INTEGRATIONSERVICE_BIN"];
    if (!bin) throw new Error("WEBINAR_INTEGRATIONSERVICE_BIN must name the integrationservice binary");
    const child = spawn(bin, ["--config", this.config, "serve"], {
      env: this.env,
      stdio: ["ignore", this.log, this.log],
    });
    this.process = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error("the private integration service exited");
      const up = await new Promise<boolean>((resolve) => {
        const socket = connect(this.port, "127.0.0.1");
        socket.once("connect", () => (socket.destroy(), resolve(true)));
        socket.once("error", () => resolve(false));
      });
      if (up) return;
      if (Date.now() > deadline) throw new Error("the private service did not listen");
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    const code = await exited;
    if (code !== 0) throw new Error(`the private service exited with ${code}`);
    this.process = undefined;
  }

  kill(): void {
    this.process?.kill("SIGKILL");
  }
}
