/**
 * Retries on UNAVAILABLE for idempotent calls, with exponential back-off and full jitter.
 * Every `webinar.v1` call is safe to repeat (creates carry a `requestId` the client fills in);
 * other codes are answers, not accidents, and are thrown at once.
 */
import { setTimeout as sleep } from "node:timers/promises";

import { Code } from "@connectrpc/connect";

import { toWebinarError } from "./errors.js";

/** How often and how patiently to retry. */
export interface RetryPolicy {
  /** Attempts in total, including the first; 1 disables retries. */
  maxAttempts: number;
  /** Milliseconds; ceiling of the first pause, doubled on each retry. */
  initialBackoffMs: number;
  /** Milliseconds; the largest pause. */
  maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 5_000 };

/** The pause before retry number `retry` (0-based): uniform in [0, ceiling]. */
export function backoffMs(policy: RetryPolicy, retry: number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(retry, 20));
  return Math.random() * ceiling;
}

/** Runs `call`, repeating it on UNAVAILABLE as `policy` allows; throws `WebinarError`. */
export async function withRetries<T>(policy: RetryPolicy, idempotent: boolean, call: () => Promise<T>): Promise<T> {
  const attempts = idempotent ? Math.max(1, policy.maxAttempts) : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (caught) {
      const error = toWebinarError(caught);
      if (error.code !== Code.Unavailable || attempt >= attempts) throw error;
      await sleep(backoffMs(policy, attempt - 1));
    }
  }
}
