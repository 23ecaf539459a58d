// Typed application errors with stable codes; the HTTP mapping lives in core/http-errors.ts only.

/** Every error code Keysafe answers with. For the AWS APIs these are AWS's exception names. */
const ERROR_CODES = [
  // KMS
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'KMSInvalidSignatureException',
  'KMSInvalidMacException',
  'AlreadyExistsException',
  'LimitExceededException',
  'TagException',
  'UnsupportedOperationException',
  'InvalidArnException',
  'InvalidAliasNameException',
  'NotAuthorizedException',
  'InvalidMarkerException',
  'InvalidGrantTokenException',
  'InvalidGrantIdException',
  'MalformedPolicyDocumentException',
  'DryRunOperationException',
  'ConflictException',
  'KMSInternalException',
  // KMS: importing key material
  'InvalidImportTokenException',
  'ExpiredImportTokenException',
  'IncorrectKeyMaterialException',
  // Secrets Manager
  'ResourceNotFoundException',
  'ResourceExistsException',
  'InvalidRequestException',
  'InvalidParameterException',
  'InvalidNextTokenException',
  'EncryptionFailure',
  'DecryptionFailure',
  'PreconditionNotMetException',
  'PublicPolicyException',
  'InternalServiceError',
  // Workload identity (STS's names) and the audit log
  'InvalidIdentityToken',
  'ExpiredTokenException',
  'IDPRejectedClaim',
  'IDPCommunicationError',
  'ServiceUnavailableException',
  // Shared by the AWS JSON services
  'ValidationException',
  'SerializationException',
  'UnknownOperationException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'AccessDeniedException',
  'ThrottlingException',
  'RequestEntityTooLargeException',
  'InternalFailure',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An expected failure with a stable code. The message must never contain secret values,
 * key material, tokens or plaintext: it goes to clients and logs verbatim.
 */
export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;
