// The auth domain's stored issuers, roles and session revocations: the store port the directory writes through.

/** Issuers and roles managed through the admin API (the config file's live in memory only). */
export type AuthEntryKind = 'issuer' | 'role';

export interface AuthEntry {
  kind: AuthEntryKind;
  name: string;
  /** The validated document, as JSON text. */
  doc: string;
  updatedAt: number;
}

export interface AuthStore {
  listAuthEntries(kind: AuthEntryKind): Promise<AuthEntry[]>;
  /** Creates or replaces. */
  putAuthEntry(entry: AuthEntry): Promise<void>;
  /** False when there was none. */
  deleteAuthEntry(kind: AuthEntryKind, name: string): Promise<boolean>;
  /** Sessions of `role` issued before `before` (ms) are refused from now on. Only moves forward. */
  revokeSessions(role: string, before: number): Promise<void>;
  /** role → revokedBefore (ms) */
  listRevocations(): Promise<Map<string, number>>;
}
