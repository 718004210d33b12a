/**
 * Errors as one exception type: the gRPC code, the message, and the `google.rpc` details the
 * service sends (`BadRequest` field violations on INVALID_ARGUMENT, `ErrorInfo` reason on
 * FAILED_PRECONDITION, PERMISSION_DENIED and UNAUTHENTICATED). Switch on `code` and `reason`,
 * never on the message.
 */
import { Code, ConnectError } from "@connectrpc/connect";

import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";

export { Code };

/** One invalid field: its path in the request (e.g. `registration.email`) and why. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** A failed call. */
export class WebinarError extends Error {
  override readonly name = "WebinarError";
  /** The gRPC status code. */
  readonly code: Code;
  /** `ErrorInfo.reason` (e.g. `INTEGRATION_DISABLED`); empty when none was sent. */
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];

  constructor(
    code: Code,
    message: string,
    details: { reason?: string; domain?: string; metadata?: Record<string, string>; fieldViolations?: FieldViolation[] } = {},
    options?: { cause?: unknown },
  ) {
    super(`${Code[code]}: ${message}${details.reason ? ` (${details.reason})` : ""}`, options);
    this.code = code;
    this.reason = details.reason ?? "";
    this.domain = details.domain ?? "";
    this.metadata = details.metadata ?? {};
    this.fieldViolations = details.fieldViolations ?? [];
  }

  /** The gRPC code's name, e.g. `InvalidArgument`. */
  get codeName(): string {
    return Code[this.code];
  }

  /** The violation of `field`, if any. */
  violation(field: string): FieldViolation | undefined {
    return this.fieldViolations.find((v) => v.field === field);
  }
}

/** Any error of a call as a `WebinarError`, with its details decoded. */
export function toWebinarError(error: unknown): WebinarError {
  if (error instanceof WebinarError) return error;
  const connect = ConnectError.from(error);
  const fieldViolations = connect
    .findDetails(BadRequestSchema)
    .flatMap((bad) => bad.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
  const info = connect.findDetails(ErrorInfoSchema)[0];
  const details: { reason?: string; domain?: string; metadata?: Record<string, string>; fieldViolations?: FieldViolation[] } = {
    fieldViolations,
  };
  if (info !== undefined) {
    details.reason = info.reason;
    details.domain = info.domain;
    details.metadata = { ...info.metadata };
  }
  return new WebinarError(connect.code, connect.rawMessage, details, { cause: error });
}
