/**
 * The client: one transport, one tenant, every call with a deadline, calls retried on
 * UNAVAILABLE, list calls as async iterators over all pages, and the change feed as an async
 * iterator that reconnects and resumes from its cursor.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, type Client, type Transport, createClient } from "@connectrpc/connect";

import { toWebinarError } from "./errors.js";
import type { Change } from "./gen/webinar/v1/metrics_pb.js";
import { MetricsService } from "./gen/webinar/v1/metrics_pb.js";
import type { On24CredentialsSchema } from "./gen/webinar/v1/provider_config_pb.js";
import { ProviderConfigService, type On24Credentials } from "./gen/webinar/v1/provider_config_pb.js";
import type { RegistrationSchema } from "./gen/webinar/v1/registration_pb.js";
import {
  type CreateRegistrationResponse,
  type Registration,
  RegistrationService,
} from "./gen/webinar/v1/registration_pb.js";
import type { WebinarSchema } from "./gen/webinar/v1/webinar_pb.js";
import { type Webinar, WebinarService } from "./gen/webinar/v1/webinar_pb.js";
import { DEFAULT_RETRY, type RetryPolicy, backoffMs, withRetries } from "./retry.js";
import { type ConnectOptions, createTransport, loadStack, optionsFromStack } from "./stack.js";

/** Options of a `WebinarClient`. */
export interface ClientOptions {
  /** Deadline of each call in milliseconds (default 30 s). */
  timeoutMs?: number;
  retry?: RetryPolicy;
}

/** The `webinar.v1` services for one tenant. The raw Connect clients are public too. */
export class WebinarClient {
  readonly parent: string;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly credentials: Client<typeof ProviderConfigService>;
  readonly webinars: Client<typeof WebinarService>;
  readonly registrations: Client<typeof RegistrationService>;
  readonly metrics: Client<typeof MetricsService>;

  constructor(transport: Transport, tenant: string, options: ClientOptions = {}) {
    this.parent = tenant.startsWith("tenants/") ? tenant : `tenants/${tenant}`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.credentials = createClient(ProviderConfigService, transport);
    this.webinars = createClient(WebinarService, transport);
    this.registrations = createClient(RegistrationService, transport);
    this.metrics = createClient(MetricsService, transport);
  }

  /** A client of a local stack (`cargo xtask up`), for its demo tenant unless told. */
  static fromStack(path?: string, options: ClientOptions & { identity?: string; tenant?: string } = {}): WebinarClient {
    const tenant = options.tenant ?? loadStack(path).demo.tenant;
    return new WebinarClient(createTransport(optionsFromStack(path, options.identity)), tenant, options);
  }

  /** A client from explicit settings (endpoint, mTLS PEMs and/or a bearer token). */
  static connect(connection: ConnectOptions, tenant: string, options: ClientOptions = {}): WebinarClient {
    return new WebinarClient(createTransport(connection), tenant, options);
  }

  /** Runs one call with this client's deadline, retries and errors. */
  call<T>(run: (options: { timeoutMs: number }) => Promise<T>, idempotent = true): Promise<T> {
    return withRetries(this.retry, idempotent, () => run({ timeoutMs: this.timeoutMs }));
  }

  /** `tenants/{t}/webinars/{w}` from a short id or a full name. */
  webinarName(webinar: string): string {
    return webinar.startsWith("tenants/") ? webinar : `${this.parent}/webinars/${webinar}`;
  }

  async putOn24Credentials(
    credentials: MessageInitShape<typeof On24CredentialsSchema>,
    liveCheck = false,
  ): Promise<On24Credentials> {
    const on24Credentials = { ...credentials, name: credentials.name || `${this.parent}/on24Credentials` };
    const response = await this.call((o) => this.credentials.putOn24Credentials({ on24Credentials, liveCheck }, o));
    return required(response.on24Credentials);
  }

  async getOn24Credentials(): Promise<On24Credentials> {
    const name = `${this.parent}/on24Credentials`;
    return required((await this.call((o) => this.credentials.getOn24Credentials({ name }, o))).on24Credentials);
  }

  async createWebinar(webinar: MessageInitShape<typeof WebinarSchema>, requestId?: string): Promise<Webinar> {
    const request = { parent: this.parent, webinar, requestId: requestId ?? randomUUID() };
    return required((await this.call((o) => this.webinars.createWebinar(request, o))).webinar);
  }

  async getWebinar(webinar: string): Promise<Webinar> {
    const name = this.webinarName(webinar);
    return required((await this.call((o) => this.webinars.getWebinar({ name }, o))).webinar);
  }

  listWebinars(pageSize = 100, showUnlinked = false): AsyncIterable<Webinar> {
    return this.pages(async (pageToken) => {
      const page = await this.call((o) =>
        this.webinars.listWebinars({ parent: this.parent, pageSize, pageToken, showUnlinked }, o),
      );
      return [page.webinars, page.nextPageToken];
    });
  }

  /** Registers one attendee; `created` is false if the email was already registered. */
  createRegistration(
    webinar: string,
    registration: MessageInitShape<typeof RegistrationSchema>,
    requestId?: string,
  ): Promise<CreateRegistrationResponse> {
    const request = { parent: this.webinarName(webinar), registration, requestId: requestId ?? randomUUID() };
    return this.call((o) => this.registrations.createRegistration(request, o));
  }

  async getRegistration(name: string): Promise<Registration> {
    return required((await this.call((o) => this.registrations.getRegistration({ name }, o))).registration);
  }

  /** Every registration of a webinar (optionally filtered, `status = FAILED OR ...`). */
  listRegistrations(webinar: string, filter = "", pageSize = 100): AsyncIterable<Registration> {
    const parent = this.webinarName(webinar);
    return this.pages(async (pageToken) => {
      const page = await this.call((o) =>
        this.registrations.listRegistrations({ parent, filter, pageSize, pageToken }, o),
      );
      return [page.registrations, page.nextPageToken];
    });
  }

  /** Erases a person across the tenant; returns how many registrations were forgotten. */
  async forgetPerson(email: string): Promise<bigint> {
    const response = await this.call((o) => this.registrations.forgetPerson({ parent: this.parent, email }, o));
    return response.forgottenRegistrationCount;
  }

  async getWebinarMetrics(webinar: string) {
    const name = `${this.webinarName(webinar)}/metrics`;
    return required((await this.call((o) => this.metrics.getWebinarMetrics({ name }, o))).webinarMetrics);
  }

  /** Every change recorded after `afterCursor` so far, and the cursor to continue from. */
  async listChanges(afterCursor = "", webinar = ""): Promise<{ changes: Change[]; cursor: string }> {
    const changes: Change[] = [];
    let cursor = afterCursor;
    for (;;) {
      const request = { parent: this.parent, afterCursor: cursor, pageSize: 500, webinar: webinar && this.webinarName(webinar) };
      const page = await this.call((o) => this.metrics.listChanges(request, o));
      changes.push(...page.changes);
      cursor = page.nextCursor || cursor;
      if (page.changes.length === 0) return { changes, cursor };
    }
  }

  /** The tenant's changes after `afterCursor`, forever, surviving disconnects. */
  watchChanges(options: { afterCursor?: string; webinar?: string } = {}): ChangeFeed {
    return new ChangeFeed(this.metrics, this.parent, options.afterCursor ?? "", options.webinar ? this.webinarName(options.webinar) : "");
  }

  private async *pages<T>(fetch: (token: string) => Promise<[T[], string]>): AsyncGenerator<T> {
    let token = "";
    do {
      const [items, next] = await fetch(token);
      yield* items;
      token = next;
    } while (token);
  }
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("the service answered without the expected field");
  return value;
}

/** Codes that mean "the connection went away": reconnect, however often. */
const RECONNECT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Canceled]);
/** Codes a reset connection sometimes surfaces as: reconnect a few times in a row. */
const ODD = new Set([Code.Unknown, Code.Internal, Code.Aborted, Code.ResourceExhausted]);
const MAX_ODD_FAILURES = 5;
const RECONNECT_BACKOFF: RetryPolicy = { maxAttempts: Infinity, initialBackoffMs: 200, maxBackoffMs: 10_000 };

/**
 * `for await (const change of feed)`: the change feed one `Change` at a time. `cursor` is the
 * position after the last change handed out (or the last heartbeat): store it to resume in a
 * later process. Ends on `close()` or on an error reconnecting cannot fix (a `WebinarError`).
 */
export class ChangeFeed implements AsyncIterable<Change> {
  #cursor: string;
  #abort = new AbortController();

  constructor(
    private readonly metrics: Client<typeof MetricsService>,
    private readonly parent: string,
    afterCursor: string,
    private readonly webinar: string,
  ) {
    this.#cursor = afterCursor;
  }

  get cursor(): string {
    return this.#cursor;
  }

  close(): void {
    this.#abort.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Change> {
    let failures = 0;
    let oddFailures = 0;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const stream = this.metrics.watchChanges(
          { parent: this.parent, afterCursor: this.#cursor, webinar: this.webinar },
          { signal },
        );
        for await (const message of stream) {
          failures = 0;
          oddFailures = 0;
          const last = message.changes.length - 1;
          for (const [index, change] of message.changes.entries()) {
            this.#cursor = index === last && message.cursor ? message.cursor : change.cursor || this.#cursor;
            yield change;
            if (signal.aborted) return;
          }
          if (last < 0 && message.cursor) this.#cursor = message.cursor;
        }
      } catch (caught) {
        if (signal.aborted) return;
        const error = toWebinarError(caught);
        if (!RECONNECT.has(error.code)) {
          if (!ODD.has(error.code) || oddFailures >= MAX_ODD_FAILURES) throw error;
          oddFailures++;
        }
      }
      try {
        await sleep(backoffMs(RECONNECT_BACKOFF, failures++), undefined, { signal });
      } catch {
        return;
      }
    }
  }
}
