// The one place error codes become HTTP statuses and AWS JSON error bodies.
import { AppError, type ErrorCode } from '../core/errors.js';

// Live AWS answers 400 for KMS and Secrets Manager client errors whatever the model says; the
// SDKs read `__type`. Faults are 500 so the SDKs retry them.
const STATUS: Partial<Record<ErrorCode, number>> = {
  RequestEntityTooLargeException: 413,
  KMSInternalException: 500,
  InternalServiceError: 500,
  InternalFailure: 500,
  ServiceUnavailableException: 503,
};

export function statusOf(error: AppError): number {
  return STATUS[error.code] ?? 400;
}

// The native API (/v1/…) answers with HTTP's own statuses.
const NATIVE_STATUS: Partial<Record<ErrorCode, number>> = {
  MissingAuthenticationTokenException: 401,
  UnrecognizedClientException: 401,
  InvalidIdentityToken: 401,
  ExpiredTokenException: 401,
  AccessDeniedException: 403,
  NotAuthorizedException: 403,
  IDPRejectedClaim: 403,
  ResourceNotFoundException: 404,
  ThrottlingException: 429,
  IDPCommunicationError: 502,
  ServiceUnavailableException: 503,
};

export function nativeStatusOf(error: AppError): number {
  return NATIVE_STATUS[error.code] ?? statusOf(error);
}

/** Any non-AppError is a programmer mistake: the client gets an opaque fault, the log the details. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError('InternalFailure', 'The server encountered an internal error. Try again later.');
}

export function awsErrorBody(error: AppError): string {
  return JSON.stringify({ __type: error.code, message: error.message });
}
