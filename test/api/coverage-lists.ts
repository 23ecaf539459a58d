// Which operations of the AWS models Keysafe refuses, for good and for now: shared by the coverage tests.

/** Refused for good: custom key stores need an HSM or an external key store proxy (README, "Refused operations"). */
export const REFUSED_FOR_GOOD = new Set([
  'ConnectCustomKeyStore',
  'CreateCustomKeyStore',
  'DeleteCustomKeyStore',
  'DescribeCustomKeyStores',
  'DisconnectCustomKeyStore',
  'UpdateCustomKeyStore',
]);

/**
 * Not yet answered (issue 16: imported key material, multi-Region keys, key agreement,
 * GetKeyLastUsage, Secrets Manager replication). Whoever lands one removes it here: this list must
 * shrink to nothing, leaving only REFUSED_FOR_GOOD.
 */
export const NOT_YET_ISSUE_16 = new Set(['ReplicateKey', 'UpdatePrimaryRegion']);
