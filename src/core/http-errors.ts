// The one place error codes become HTTP statuses (AWS JSON, native, STS) and AWS JSON error bodies.
import { AppError, type ErrorCode } from './errors.js';

/** Which protocol answers: AWS JSON 1.1 (POST /), the native routes (/v1/…), or STS's query protocol. */
export type Api = 'aws' | 'native' | 'sts';

// Live AWS answers 400 for KMS and Secrets Manager client errors whatever the model says; the
// SDKs read `__type`. Faults are 500 so the SDKs retry them.
const AWS_STATUS: Partial<Record<ErrorCode, number>> = {
  RequestEntityTooLargeException: 413,
  KMSInternalException: 500,
  InternalServiceError: 500,
  InternalFailure: 500,
  ServiceUnavailableException: 503,
};

// The native API answers with HTTP's own statuses.
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
};

// STS names some errors its own way, and answers 403 for authentication failures.
const STS_CODES: Partial<Record<ErrorCode, string>> = {
  AccessDeniedException: 'AccessDenied',
  ValidationException: 'ValidationError',
  ThrottlingException: 'Throttling',
  UnknownOperationException: 'InvalidAction',
  MissingAuthenticationTokenException: 'MissingAuthenticationToken',
  UnrecognizedClientException: 'InvalidClientTokenId',
  InvalidSignatureException: 'SignatureDoesNotMatch',
  IncompleteSignatureException: 'IncompleteSignature',
};
const STS_STATUS: Partial<Record<ErrorCode, number>> = {
  AccessDeniedException: 403,
  IDPRejectedClaim: 403,
  UnrecognizedClientException: 403,
  InvalidSignatureException: 403,
  MissingAuthenticationTokenException: 403,
};

export function statusOf(error: AppError, api: Api = 'aws'): number {
  const own = api === 'native' ? NATIVE_STATUS[error.code] : api === 'sts' ? STS_STATUS[error.code] : undefined;
  return own ?? AWS_STATUS[error.code] ?? 400;
}

export const nativeStatusOf = (error: AppError): number => statusOf(error, 'native');

/** The error code as STS spells it. */
export const stsCodeOf = (error: AppError): string => STS_CODES[error.code] ?? error.code;

/** Any non-AppError is a programmer mistake: the client gets an opaque fault, the log the details. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError('InternalFailure', 'The server encountered an internal error. Try again later.');
}

/** `{"__type","message"}`; AWS leaves the message out for the errors it answers without one (KMSInvalidSignatureException). */
export function awsErrorBody(error: AppError): string {
  return JSON.stringify(error.message === '' ? { __type: error.code } : { __type: error.code, message: error.message });
}
