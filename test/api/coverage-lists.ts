// Which operations of the AWS models Keysafe refuses (for good): shared by the coverage tests.

/** Refused for good: custom key stores need an HSM or an external key store proxy (README, "Refused operations"). */
export const REFUSED_FOR_GOOD = new Set([
  'ConnectCustomKeyStore',
  'CreateCustomKeyStore',
  'DeleteCustomKeyStore',
  'DescribeCustomKeyStores',
  'DisconnectCustomKeyStore',
  'UpdateCustomKeyStore',
]);
